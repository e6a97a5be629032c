//! BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//!
//! Customers buy at a Poisson rate λ ~ Gamma(r, α) while alive and drop out after any purchase
//! with probability p ~ Beta(a, b). Times are in the caller's unit (typically weeks).

use super::optimize::minimise_restarting;
use super::special::ln_gamma;

/// Purchase history of one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    /// Frequency: number of repeat purchases (a non-negative whole number).
    pub x: f64,
    /// Recency: time of the last repeat purchase, measured from the first purchase (0 when `x = 0`).
    pub t_x: f64,
    /// Age: time between the first purchase and the end of the observation period (`T`).
    pub t: f64,
}

/// BG/NBD parameters: Gamma(`r`, `alpha`) purchase rates and Beta(`a`, `b`) dropout probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Shape of the Gamma distribution of purchase rates.
    pub r: f64,
    /// Scale (rate parameter) of the Gamma distribution of purchase rates.
    pub alpha: f64,
    /// First shape parameter of the Beta distribution of dropout probabilities.
    pub a: f64,
    /// Second shape parameter of the Beta distribution of dropout probabilities.
    pub b: f64,
}

impl Params {
    /// True when every parameter is finite and strictly positive.
    fn is_valid(&self) -> bool {
        [self.r, self.alpha, self.a, self.b]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
    }
}

/// Customers above which [`fit`] first fits an evenly spread sample of this many and starts the
/// fit of the whole base from its optimum: most of the search then runs on the sample.
const FIT_SAMPLE: usize = 50_000;

/// Sum of the individual log-likelihoods (eq. 6 of the paper, computed in log space with
/// `ln_gamma` for stability; for `x = 0` the second term is absent).
///
/// Returns `-inf` for invalid (non-positive or non-finite) parameters; a customer with
/// `0 < x < 1 - b` (not a whole count) also makes the result non-finite.
pub fn log_likelihood(p: &Params, data: &[Customer]) -> f64 {
    if !p.is_valid() {
        return f64::NEG_INFINITY;
    }
    data.iter().map(|c| individual_log_likelihood(p, c)).sum()
}

/// Log-likelihood of one customer, eq. 6 of the paper.
fn individual_log_likelihood(p: &Params, c: &Customer) -> f64 {
    let Params { r, alpha, a, b } = *p;
    let x = c.x;
    // Common factor: Γ(r+x) α^r / Γ(r) · B(a, b+x) / B(a, b).
    let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
    let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
    // Customer still alive at T.
    let a3 = -(r + x) * (alpha + c.t).ln();
    if x <= 0.0 {
        return a1 + a2 + a3;
    }
    // Customer dropped out right after the last purchase at t_x.
    let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + c.t_x).ln();
    a1 + a2 + log_sum_exp(a3, a4)
}

/// `ln(e^u + e^v)` without overflow.
fn log_sum_exp(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    if !m.is_finite() {
        return m;
    }
    m + ((u - m).exp() + (v - m).exp()).ln()
}

/// Maximum likelihood fit: Nelder-Mead over the logs of the four parameters (so they stay
/// positive), started at (1, 1, 1, 1) in natural scale, minimising the negative log-likelihood,
/// restarted from the previous optimum until it stops improving. No regularisation is applied.
/// Returns `None` for empty data or a non-finite optimum.
///
/// Customers of the same history are counted once with their number, and terms that depend
/// only on the number of repeat purchases are computed once per number; a large base is first
/// fitted on a sample. Each evaluation then costs a few logarithms per distinct history.
pub fn fit(data: &[Customer]) -> Option<Params> {
    if data.is_empty() {
        return None;
    }
    let mut start = vec![0.0; 4];
    if data.len() > 2 * FIT_SAMPLE {
        let sample: Vec<Customer> = data.iter().step_by(data.len() / FIT_SAMPLE).copied().collect();
        let sample = Histories::of(&sample);
        start = minimise_restarting(|z| -sample.log_likelihood(&from_log(z)), &start).0;
    }
    let all = Histories::of(data);
    let (z, value) = minimise_restarting(|z| -all.log_likelihood(&from_log(z)), &start);
    let p = from_log(&z);
    (value.is_finite() && p.is_valid()).then_some(p)
}

/// Distinct histories with how many customers have each, ordered by repeat purchases.
struct Histories(Vec<(Customer, f64)>);

impl Histories {
    fn of(data: &[Customer]) -> Self {
        let mut sorted = data.to_vec();
        sorted.sort_by(|u, v| {
            u.x.total_cmp(&v.x)
                .then(u.t_x.total_cmp(&v.t_x))
                .then(u.t.total_cmp(&v.t))
        });
        let mut rows: Vec<(Customer, f64)> = Vec::new();
        for c in sorted {
            match rows.last_mut() {
                Some((last, n)) if *last == c => *n += 1.0,
                _ => rows.push((c, 1.0)),
            }
        }
        Self(rows)
    }

    /// The same sum as [`log_likelihood`], with the terms of each repeat count computed once.
    fn log_likelihood(&self, p: &Params) -> f64 {
        if !p.is_valid() {
            return f64::NEG_INFINITY;
        }
        let Params { r, alpha, a, b } = *p;
        let shared = r * alpha.ln() - ln_gamma(r) + ln_gamma(a + b) - ln_gamma(b);
        let (mut x, mut common, mut dropout) = (f64::NAN, 0.0, 0.0);
        let mut sum = 0.0;
        for (c, n) in &self.0 {
            if c.x != x {
                x = c.x;
                common = shared + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x);
                dropout = a.ln() - (b + x - 1.0).ln();
            }
            let alive = -(r + x) * (alpha + c.t).ln();
            let one = if x <= 0.0 {
                common + alive
            } else {
                common + log_sum_exp(alive, dropout - (r + x) * (alpha + c.t_x).ln())
            };
            sum += n * one;
        }
        sum
    }
}

/// Maps optimiser coordinates (log-parameters) back to natural scale.
fn from_log(z: &[f64]) -> Params {
    let get = |i: usize| z.get(i).copied().unwrap_or(f64::NAN).exp();
    Params {
        r: get(0),
        alpha: get(1),
        a: get(2),
        b: get(3),
    }
}

/// P(alive | x, t_x, T) (eq. 12 of the note "Computing P(alive) using the BG/NBD model"):
/// 1 for `x = 0`, else `1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))`.
///
/// Evaluated in log space so that long-inactive customers give 0 instead of NaN; the result is
/// clamped to [0, 1] and is NaN only for NaN inputs.
pub fn prob_alive(p: &Params, c: &Customer) -> f64 {
    if c.x <= 0.0 {
        return 1.0;
    }
    (1.0 / (1.0 + dropout_odds(p, c))).clamp(0.0, 1.0)
}

/// The odds "dropped out after t_x" : "still alive", i.e. `a/(b+x-1) ((α+T)/(α+t_x))^(r+x)`;
/// 0 when `x = 0` (a customer without repeat purchases cannot have dropped out).
fn dropout_odds(p: &Params, c: &Customer) -> f64 {
    if c.x <= 0.0 {
        return 0.0;
    }
    let ln_odds =
        p.a.ln() - (p.b + c.x - 1.0).ln() + (p.r + c.x) * ((p.alpha + c.t).ln() - (p.alpha + c.t_x).ln());
    ln_odds.exp()
}

/// Expected purchases in (T, T+t] for a customer with history (x, t_x, T) — eq. 10 of the paper:
///
/// `(a+b+x-1)/(a-1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]
///  / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x))`.
///
/// The singularity at `a = 1` is removable; there the value is taken as the mean of the
/// expressions at `a = 1 ± 1e-6`. Returns 0 for `t <= 0` and NaN for invalid parameters.
pub fn expected_purchases(p: &Params, c: &Customer, t: f64) -> f64 {
    if !p.is_valid() {
        return f64::NAN;
    }
    if t <= 0.0 {
        return 0.0;
    }
    const A_EPS: f64 = 1e-6;
    if (p.a - 1.0).abs() < A_EPS {
        let below = Params { a: 1.0 - A_EPS, ..*p };
        let above = Params { a: 1.0 + A_EPS, ..*p };
        return 0.5 * (conditional_expectation(&below, c, t) + conditional_expectation(&above, c, t));
    }
    conditional_expectation(p, c, t)
}

/// How much more a customer may be expected to buy over `t` weeks than over `s`: at most
/// `max(1, t / s)` times. Expected purchases never fall as the horizon grows, and grow at most
/// in proportion to it, because the expected rate only falls with time (a customer may drop out
/// after each purchase, and never comes back). So a ranking by one horizon bounds another's.
pub fn horizon_stretch(s: f64, t: f64) -> f64 {
    (t / s).max(1.0)
}

/// Eq. 10 proper (requires `a != 1`).
fn conditional_expectation(p: &Params, c: &Customer, t: f64) -> f64 {
    let Params { r, alpha, a, b } = *p;
    let x = c.x.max(0.0);
    let horizon = alpha + c.t + t;
    let z = t / horizon;
    let hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
    // ((α+T)/(α+T+t))^(r+x) = (1 − z)^(r+x), computed via ln_1p for accuracy at small z.
    let decay = ((r + x) * (-z).ln_1p()).exp();
    let numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - decay * hyp);
    numerator / (1.0 + dropout_odds(p, c))
}

/// Expected purchases in (0, t] for a new customer (eq. 7):
/// `(a+b−1)/(a−1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))]`.
///
/// This is eq. 10 with an empty history (x = t_x = T = 0).
pub fn expected_purchases_new(p: &Params, t: f64) -> f64 {
    expected_purchases(
        p,
        &Customer {
            x: 0.0,
            t_x: 0.0,
            t: 0.0,
        },
        t,
    )
}

/// Maximum number of terms of the 2F1 series.
const HYP_MAX_TERMS: usize = 10_000;
/// Relative size of a term below which the 2F1 series is considered converged.
const HYP_REL_TOL: f64 = 1e-12;

/// Gauss hypergeometric function 2F1(a, b; c; z) by its power series, for |z| < 1.
///
/// Sums until a term is below 1e-12 relative to the partial sum while terms are shrinking,
/// or 10 000 terms (accuracy degrades as z approaches 1 with c − a − b < 0).
fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..HYP_MAX_TERMS {
        let k = k as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        sum += term;
        // Only stop on the decaying tail, so an early small term cannot end the sum.
        if term.abs() <= HYP_REL_TOL * sum.abs() && ratio.abs() < 1.0 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cdnow;

    #[test]
    fn expected_purchases_are_bounded_by_another_horizons() {
        let params = [
            PUBLISHED,
            Params {
                r: 2.0,
                alpha: 1.5,
                a: 3.0,
                b: 0.7,
            },
            Params {
                r: 0.5,
                alpha: 20.0,
                a: 1.0,
                b: 5.0,
            },
        ];
        for p in &params {
            for x in [0.0, 1.0, 3.0, 12.0, 60.0] {
                for (t_x, t) in [
                    (0.0, 10.0),
                    (5.0, 40.0),
                    (38.0, 39.0),
                    (10.0, 150.0),
                    (150.0, 152.0),
                ] {
                    let c = Customer {
                        x,
                        t_x: if x == 0.0 { 0.0 } else { t_x },
                        t,
                    };
                    let kept = expected_purchases(p, &c, 52.0);
                    for horizon in [1.0, 4.0, 13.0, 26.0, 51.0, 53.0, 104.0, 260.0, 520.0] {
                        let e = expected_purchases(p, &c, horizon);
                        let bound = kept * horizon_stretch(52.0, horizon);
                        assert!(
                            e <= bound * (1.0 + 1e-9) + 1e-12,
                            "{p:?} {c:?}: {e} over {horizon} weeks, bound {bound}"
                        );
                    }
                }
            }
        }
    }

    /// Published maximum-likelihood estimates (Fader, Hardie & Lee 2005).
    const PUBLISHED: Params = Params {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    /// The CDNOW customers.
    fn load_cdnow() -> Vec<Customer> {
        cdnow::rows()
            .into_iter()
            .map(|r| Customer {
                x: r.x,
                t_x: r.t_x,
                t: r.t,
            })
            .collect()
    }

    fn close(actual: f64, expected: f64, tol: f64) -> bool {
        (actual - expected).abs() <= tol
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = −ln(1 − z)/z.
        for z in [0.1f64, 0.5, 0.9] {
            assert!(close(hyp2f1(1.0, 1.0, 2.0, z), -(1.0 - z).ln() / z, 1e-10));
        }
        // 2F1(a, b; b; z) = (1 − z)^(−a).
        assert!(close(
            hyp2f1(2.243, 4.426, 4.426, 0.47),
            0.53f64.powf(-2.243),
            1e-10
        ));
        // Slowly converging cases near z = 1 (mpmath references).
        let h = hyp2f1(2.243, 4.426, 4.219, 0.9);
        assert!(close(h, 248.868_902_206_231_6, 1e-9 * 248.87), "{h}");
        let h = hyp2f1(0.243, 2.426, 2.219, 0.99);
        assert!(close(h, 4.375_261_367_408_536, 1e-9), "{h}");
    }

    #[test]
    fn published_params_give_published_log_likelihood() {
        let data = load_cdnow();
        assert_eq!(data.len(), 2357);
        let ll = log_likelihood(&PUBLISHED, &data);
        assert!(close(ll, -9582.4, 1.0), "{ll}");
    }

    #[test]
    fn fit_reproduces_published_estimates() {
        let data = load_cdnow();
        let p = fit(&data).expect("fit");
        let ll = log_likelihood(&p, &data);
        println!("BG/NBD fit: {p:?}, LL = {ll}");
        assert!(close(p.r, 0.243, 0.005), "{p:?}");
        assert!(close(p.alpha, 4.414, 0.05), "{p:?}");
        assert!(close(p.a, 0.793, 0.01), "{p:?}");
        assert!(close(p.b, 2.426, 0.03), "{p:?}");
        assert!(close(ll, -9582.4, 1.0), "{ll}");
    }

    #[test]
    fn grouped_likelihood_is_the_sum_over_customers() {
        let mut data = load_cdnow();
        // Customers of the same history count once each.
        data.extend_from_slice(&data.clone()[..500]);
        for p in [
            PUBLISHED,
            Params {
                r: 1.0,
                alpha: 1.0,
                a: 1.0,
                b: 1.0,
            },
        ] {
            let (plain, grouped) = (log_likelihood(&p, &data), Histories::of(&data).log_likelihood(&p));
            assert!(close(plain, grouped, 1e-9 * plain.abs()), "{plain} vs {grouped}");
        }
        assert!(Histories::of(&data).0.len() < data.len());
    }

    #[test]
    fn a_large_base_fits_its_sample_first_and_gets_the_same_estimates() {
        // The CDNOW customers fifty times over: the estimates are those of the customers once.
        let once = load_cdnow();
        let data: Vec<Customer> = (0..50).flat_map(|_| once.iter().copied()).collect();
        assert!(data.len() > 2 * FIT_SAMPLE);
        let p = fit(&data).expect("fit");
        assert!(close(p.r, 0.243, 0.005), "{p:?}");
        assert!(close(p.alpha, 4.414, 0.05), "{p:?}");
        assert!(close(p.a, 0.793, 0.01), "{p:?}");
        assert!(close(p.b, 2.426, 0.03), "{p:?}");
    }

    #[test]
    fn fit_rejects_empty_data() {
        assert_eq!(fit(&[]), None);
    }

    #[test]
    fn invalid_params_have_no_likelihood() {
        let p = Params { r: -1.0, ..PUBLISHED };
        assert_eq!(
            log_likelihood(
                &p,
                &[Customer {
                    x: 1.0,
                    t_x: 1.0,
                    t: 2.0
                }]
            ),
            f64::NEG_INFINITY
        );
    }

    #[test]
    fn prob_alive_for_the_papers_example_customer() {
        // 1 / (1 + 0.793/3.426 · (43.274/34.844)^2.243) = 1 / (1 + 0.23147 · 1.62596) = 0.72658
        // (hand calculation, confirmed with 30-digit arithmetic).
        let c = Customer {
            x: 2.0,
            t_x: 30.43,
            t: 38.86,
        };
        let pa = prob_alive(&PUBLISHED, &c);
        assert!(close(pa, 0.726_58, 1e-5), "{pa}");
    }

    #[test]
    fn prob_alive_edge_cases() {
        assert_eq!(
            prob_alive(
                &PUBLISHED,
                &Customer {
                    x: 0.0,
                    t_x: 0.0,
                    t: 38.0
                }
            ),
            1.0
        );
        // Purchased at the very end: the odds of having dropped out are a/(b+x-1).
        let pa = prob_alive(
            &PUBLISHED,
            &Customer {
                x: 1.0,
                t_x: 38.0,
                t: 38.0,
            },
        );
        assert!(close(pa, 1.0 / (1.0 + 0.793 / 2.426), 1e-12));
        // Long silence after a burst: practically dead, but finite.
        let pa = prob_alive(
            &PUBLISHED,
            &Customer {
                x: 300.0,
                t_x: 1.0,
                t: 1_000.0,
            },
        );
        assert!((0.0..1e-12).contains(&pa));
    }

    #[test]
    fn expected_purchases_for_the_papers_example_customer() {
        // The paper reports 1.226 for this customer over the next 39 weeks
        // (30-digit arithmetic with the rounded published parameters: 1.226028).
        let c = Customer {
            x: 2.0,
            t_x: 30.43,
            t: 38.86,
        };
        let e = expected_purchases(&PUBLISHED, &c, 39.0);
        assert!(close(e, 1.226_028, 1e-5), "{e}");
        assert_eq!(expected_purchases(&PUBLISHED, &c, 0.0), 0.0);
    }

    #[test]
    fn expected_purchases_new_matches_eq7() {
        // Hand evaluation of eq. 7 at t = 39 with the published parameters.
        let e = expected_purchases_new(&PUBLISHED, 39.0);
        let z = 39.0 / 43.414;
        let series = hyp2f1(0.243, 2.426, 0.793 + 2.426 - 1.0, z);
        let manual = (0.793 + 2.426 - 1.0) / (0.793 - 1.0) * (1.0 - (4.414f64 / 43.414).powf(0.243) * series);
        assert!(close(e, manual, 1e-12), "{e} vs {manual}");
        // 30-digit arithmetic gives 1.196723.
        assert!(close(e, 1.196_723, 1e-5), "{e}");
        assert!(e > 0.0 && e < 39.0);
        // Grows with the horizon.
        assert!(expected_purchases_new(&PUBLISHED, 78.0) > e);
    }

    #[test]
    fn expected_purchases_is_continuous_at_a_equal_one() {
        let c = Customer {
            x: 3.0,
            t_x: 20.0,
            t: 30.0,
        };
        let at_one = expected_purchases(&Params { a: 1.0, ..PUBLISHED }, &c, 10.0);
        let near = expected_purchases(
            &Params {
                a: 1.001,
                ..PUBLISHED
            },
            &c,
            10.0,
        );
        assert!(at_one.is_finite());
        assert!(close(at_one, near, 1e-3), "{at_one} vs {near}");
    }
}
