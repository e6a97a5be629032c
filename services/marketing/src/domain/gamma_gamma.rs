//! Gamma-Gamma model of monetary value (Fader & Hardie, "The Gamma-Gamma model of monetary
//! value", 2013).
//!
//! A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, v) across customers, so
//! the mean spend of a customer is p/ν and the population mean is v p / (q − 1).

use super::optimize::minimise_restarting;
use super::special::ln_gamma;

/// Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Shape of the Gamma distribution of individual transaction values.
    pub p: f64,
    /// Shape of the Gamma distribution of the customers' scale parameters ν.
    pub q: f64,
    /// Rate of the Gamma distribution of the customers' scale parameters ν.
    pub v: f64,
}

impl Params {
    /// True when every parameter is finite and strictly positive.
    fn is_valid(&self) -> bool {
        [self.p, self.q, self.v].iter().all(|v| v.is_finite() && *v > 0.0)
    }
}

/// Spend history of one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spender {
    /// Number of repeat transactions (x >= 1 for the model to apply).
    pub x: f64,
    /// Mean value of those transactions (z̄).
    pub mean: f64,
}

impl Spender {
    /// Rows the likelihood can use: at least one transaction and a positive, finite mean.
    fn is_usable(&self) -> bool {
        self.x > 0.0 && self.x.is_finite() && self.mean > 0.0 && self.mean.is_finite()
    }
}

/// Sum over customers of the log-density of their mean spend z̄ given x transactions:
/// `ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln z̄ + px ln x − (px+q) ln(x z̄ + v)`.
///
/// Only rows with `x > 0` and a positive mean are meaningful; other rows are skipped.
/// Returns `-inf` for invalid (non-positive or non-finite) parameters.
pub fn log_likelihood(p: &Params, data: &[Spender]) -> f64 {
    if !p.is_valid() {
        return f64::NEG_INFINITY;
    }
    data.iter()
        .filter(|s| s.is_usable())
        .map(|s| individual_log_likelihood(p, s))
        .sum()
}

/// Log-density of one customer's mean spend.
fn individual_log_likelihood(p: &Params, s: &Spender) -> f64 {
    let Params { p, q, v } = *p;
    let px = p * s.x;
    ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * v.ln() + (px - 1.0) * s.mean.ln() + px * s.x.ln()
        - (px + q) * (s.x * s.mean + v).ln()
}

/// Maximum likelihood fit: Nelder-Mead over the logs of (p, q, v), started at (1, 1, 1) in
/// natural scale, minimising the negative log-likelihood, restarted from the previous optimum
/// until it stops improving. Returns `None` when no row is usable (`x > 0`, positive mean) or the
/// optimum is non-finite.
///
/// The terms that depend only on the number of transactions are computed once per number, so an
/// evaluation costs two logarithms per spender.
pub fn fit(data: &[Spender]) -> Option<Params> {
    let spenders = Spenders::of(data);
    if spenders.0.is_empty() {
        return None;
    }
    let (z, value) = minimise_restarting(|z| -spenders.log_likelihood(&from_log(z)), &[0.0; 3]);
    let p = from_log(&z);
    (value.is_finite() && p.is_valid()).then_some(p)
}

/// The usable spenders as (x, ln x, mean, ln mean), ordered by x.
struct Spenders(Vec<(f64, f64, f64, f64)>);

impl Spenders {
    fn of(data: &[Spender]) -> Self {
        let mut rows: Vec<(f64, f64, f64, f64)> = data
            .iter()
            .filter(|s| s.is_usable())
            .map(|s| (s.x, s.x.ln(), s.mean, s.mean.ln()))
            .collect();
        rows.sort_by(|u, v| u.0.total_cmp(&v.0));
        Self(rows)
    }

    /// The same sum as [`log_likelihood`].
    fn log_likelihood(&self, params: &Params) -> f64 {
        if !params.is_valid() {
            return f64::NEG_INFINITY;
        }
        let Params { p, q, v } = *params;
        let shared = q * v.ln() - ln_gamma(q);
        let (mut x, mut common) = (f64::NAN, 0.0);
        let mut sum = 0.0;
        for &(x_i, ln_x, mean, ln_mean) in &self.0 {
            if x_i != x {
                x = x_i;
                common = shared + ln_gamma(p * x + q) - ln_gamma(p * x) + p * x * ln_x;
            }
            sum += common + (p * x - 1.0) * ln_mean - (p * x + q) * (x * mean + v).ln();
        }
        sum
    }
}

/// Maps optimiser coordinates (log-parameters) back to natural scale.
fn from_log(z: &[f64]) -> Params {
    let get = |i: usize| z.get(i).copied().unwrap_or(f64::NAN).exp();
    Params {
        p: get(0),
        q: get(1),
        v: get(2),
    }
}

/// E[M | x, mean] = (q−1)/(px+q−1) · (v p)/(q−1) + px/(px+q−1) · mean, a credibility-weighted
/// blend of the population mean `v p/(q−1)` and the customer's own mean.
///
/// For `x <= 0` the population mean is returned (requires `q > 1`, else the given mean).
/// For `x > 0` the expression simplifies to `p (v + x·mean) / (px + q − 1)`, the posterior mean
/// of p/ν, which exists whenever `px + q > 1`; otherwise (or for invalid parameters) the
/// customer's own mean is returned.
pub fn expected_spend(p: &Params, s: &Spender) -> f64 {
    if !p.is_valid() {
        return s.mean;
    }
    if s.x <= 0.0 {
        return population_mean(p).unwrap_or(s.mean);
    }
    let px = p.p * s.x;
    let denominator = px + p.q - 1.0;
    if denominator <= 0.0 {
        return s.mean;
    }
    p.p * (p.v + s.x * s.mean) / denominator
}

/// Mean transaction value across the population, `v p/(q − 1)`; `None` unless `q > 1`.
fn population_mean(p: &Params) -> Option<f64> {
    (p.q > 1.0).then(|| p.v * p.p / (p.q - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cdnow;

    /// Published estimates (Fader & Hardie 2013).
    const PUBLISHED: Params = Params {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };

    /// The CDNOW customers with repeat purchases.
    fn load_cdnow_spenders() -> Vec<Spender> {
        cdnow::rows()
            .into_iter()
            .map(|r| Spender { x: r.x, mean: r.zbar })
            .filter(|s| s.x > 0.0)
            .collect()
    }

    fn close(actual: f64, expected: f64, tol: f64) -> bool {
        (actual - expected).abs() <= tol
    }

    #[test]
    fn fit_reproduces_published_estimates() {
        let data = load_cdnow_spenders();
        assert_eq!(data.len(), 946);
        let p = fit(&data).expect("fit");
        let ll = log_likelihood(&p, &data);
        println!("Gamma-Gamma fit: {p:?}, LL = {ll}");
        assert!(close(p.p, 6.25, 0.1), "{p:?}");
        assert!(close(p.q, 3.74, 0.1), "{p:?}");
        assert!(close(p.v, 15.44, 0.3), "{p:?}");
        // The optimum is at least as good as the (rounded) published point.
        assert!(ll >= log_likelihood(&PUBLISHED, &data));
    }

    #[test]
    fn the_ordered_sum_is_the_sum_over_spenders() {
        let data = load_cdnow_spenders();
        let p = Params {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let (plain, ordered) = (log_likelihood(&p, &data), Spenders::of(&data).log_likelihood(&p));
        assert!(close(plain, ordered, 1e-9 * plain.abs()), "{plain} vs {ordered}");
    }

    #[test]
    fn rows_without_transactions_are_skipped() {
        let rows = [Spender { x: 2.0, mean: 20.0 }, Spender { x: 0.0, mean: 0.0 }];
        let ll_all = log_likelihood(&PUBLISHED, &rows);
        let ll_one = log_likelihood(&PUBLISHED, &rows[..1]);
        assert!(ll_all.is_finite());
        assert_eq!(ll_all, ll_one);
    }

    #[test]
    fn fit_needs_usable_rows() {
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[Spender { x: 0.0, mean: 0.0 }]), None);
    }

    #[test]
    fn single_row_log_likelihood_by_hand() {
        // p = 1, q = 2, v = 1, x = 1, z̄ = 1: ln Γ(3) − ln Γ(1) − ln Γ(2) + 0 + 0 + 0 − 3 ln 2.
        let p = Params {
            p: 1.0,
            q: 2.0,
            v: 1.0,
        };
        let ll = log_likelihood(&p, &[Spender { x: 1.0, mean: 1.0 }]);
        assert!(close(ll, 2f64.ln() - 3.0 * 2f64.ln(), 1e-13), "{ll}");
    }

    #[test]
    fn expected_spend_blends_population_and_individual_means() {
        let p = PUBLISHED;
        let population = p.v * p.p / (p.q - 1.0);
        assert!(close(population, 35.218_978, 1e-5));
        assert_eq!(expected_spend(&p, &Spender { x: 0.0, mean: 99.0 }), population);
        // x = 2, mean = 22.35: weights (q−1)/(px+q−1) = 2.74/15.24 and px/(px+q−1) = 12.5/15.24.
        let e = expected_spend(&p, &Spender { x: 2.0, mean: 22.35 });
        let manual = 2.74 / 15.24 * population + 12.5 / 15.24 * 22.35;
        assert!(close(e, manual, 1e-10), "{e} vs {manual}");
        assert!(close(e, 24.663_714, 1e-6), "{e}");
        // More transactions pull the estimate towards the customer's own mean.
        let heavy = expected_spend(&p, &Spender { x: 50.0, mean: 22.35 });
        assert!((heavy - 22.35).abs() < (e - 22.35).abs());
    }

    #[test]
    fn expected_spend_without_finite_population_mean() {
        let p = Params {
            p: 1.0,
            q: 0.5,
            v: 10.0,
        };
        assert_eq!(expected_spend(&p, &Spender { x: 0.0, mean: 12.0 }), 12.0);
        // x > 0 is still defined because px + q > 1: (1·(10 + 2·12))/(2 + 0.5 − 1).
        assert!(close(
            expected_spend(&p, &Spender { x: 2.0, mean: 12.0 }),
            34.0 / 1.5,
            1e-12
        ));
    }
}
