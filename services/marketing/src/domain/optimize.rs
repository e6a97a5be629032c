//! Derivative-free minimisation (Nelder-Mead simplex), std only.

/// Reflection coefficient.
const ALPHA: f64 = 1.0;
/// Expansion coefficient.
const GAMMA: f64 = 2.0;
/// Contraction coefficient.
const RHO: f64 = 0.5;
/// Shrink coefficient.
const SIGMA: f64 = 0.5;

/// Minimises `f` with the Nelder-Mead simplex method (reflection 1, expansion 2,
/// contraction 0.5, shrink 0.5).
///
/// The initial simplex is `start` plus `start + step * e_i` for every axis `i`.
/// Iteration stops when the spread of function values over the simplex
/// (`f_worst - f_best`) is at most `tolerance`, or after `max_iterations` iterations.
/// Non-finite values of `f` are treated as `+infinity`, so the search simply avoids
/// regions where the objective is undefined. Returns the best point found and its value.
/// The procedure is fully deterministic (ties are resolved by vertex order).
pub fn nelder_mead(
    f: impl Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, f64) {
    let eval = |x: &[f64]| sanitize(f(x));
    let mut simplex = initial_simplex(start, step, &eval);
    for _ in 0..max_iterations {
        sort_simplex(&mut simplex);
        if converged(&simplex, tolerance) {
            break;
        }
        iterate(&mut simplex, &eval);
    }
    sort_simplex(&mut simplex);
    // `initial_simplex` always yields at least one vertex, so the fallback is unreachable.
    simplex
        .into_iter()
        .next()
        .unwrap_or_else(|| (start.to_vec(), f64::INFINITY))
}

/// Relative tolerance of [`minimise_restarting`]: the simplex has converged when its values agree
/// to this fraction of the objective's size. An absolute tolerance does not scale: on a sum over a
/// million customers it is below the rounding noise, and the search never stops.
const RELATIVE_TOLERANCE: f64 = 1e-12;
/// The tolerance when the objective is not finite at the start.
const ABSOLUTE_TOLERANCE: f64 = 1e-10;
/// Iteration budget per Nelder-Mead run of [`minimise_restarting`].
const MAX_ITERATIONS: usize = 20_000;
/// Restarts from the previous optimum at most.
const MAX_RESTARTS: usize = 10;
/// Initial step of [`minimise_restarting`]'s simplex.
const STEP: f64 = 0.5;

/// Minimises `f` (a negative log-likelihood over log-parameters) from `start` with Nelder-Mead,
/// restarting the simplex from the previous optimum until it stops improving, which guards
/// against the simplex collapsing early. Returns the best point and its value.
pub fn minimise_restarting(f: impl Fn(&[f64]) -> f64, start: &[f64]) -> (Vec<f64>, f64) {
    let at_start = f(start);
    let tolerance = if at_start.is_finite() {
        RELATIVE_TOLERANCE * at_start.abs().max(1.0)
    } else {
        ABSOLUTE_TOLERANCE
    };
    let (mut z, mut value) = (start.to_vec(), f64::INFINITY);
    for _ in 0..MAX_RESTARTS {
        let (next_z, next_value) = nelder_mead(&f, &z, STEP, tolerance, MAX_ITERATIONS);
        let improved = next_value < value - tolerance;
        if next_value <= value {
            (z, value) = (next_z, next_value);
        }
        if !improved {
            break;
        }
    }
    (z, value)
}

/// Maps NaN and infinities to `+inf` so that comparisons stay total and meaningful.
fn sanitize(v: f64) -> f64 {
    if v.is_finite() { v } else { f64::INFINITY }
}

/// Builds the `n + 1` vertices (point, value) of the starting simplex.
fn initial_simplex(start: &[f64], step: f64, eval: &impl Fn(&[f64]) -> f64) -> Vec<(Vec<f64>, f64)> {
    let mut simplex = Vec::with_capacity(start.len() + 1);
    simplex.push((start.to_vec(), eval(start)));
    for i in 0..start.len() {
        let mut x = start.to_vec();
        x[i] += step;
        let v = eval(&x);
        simplex.push((x, v));
    }
    simplex
}

/// Orders vertices from best (lowest value) to worst; the sort is stable, hence deterministic.
fn sort_simplex(simplex: &mut [(Vec<f64>, f64)]) {
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
}

/// True when the function values over the (sorted) simplex agree within `tolerance`.
fn converged(simplex: &[(Vec<f64>, f64)], tolerance: f64) -> bool {
    match (simplex.first(), simplex.last()) {
        // `inf - inf` is NaN, which compares false: a simplex stuck in an undefined region
        // keeps iterating (and shrinking) rather than claiming convergence.
        (Some(best), Some(worst)) => worst.1 - best.1 <= tolerance,
        _ => true,
    }
}

/// Performs one Nelder-Mead step on a simplex sorted from best to worst.
fn iterate(simplex: &mut [(Vec<f64>, f64)], eval: &impl Fn(&[f64]) -> f64) {
    let n = simplex.len() - 1;
    if n == 0 {
        return;
    }
    let centroid = centroid(&simplex[..n]);
    let best = simplex[0].1;
    let second_worst = simplex[n - 1].1;
    let worst = simplex[n].clone();

    let reflected = along(&centroid, &worst.0, -ALPHA);
    let f_r = eval(&reflected);
    if f_r < best {
        let expanded = along(&centroid, &worst.0, -GAMMA);
        let f_e = eval(&expanded);
        simplex[n] = if f_e < f_r {
            (expanded, f_e)
        } else {
            (reflected, f_r)
        };
        return;
    }
    if f_r < second_worst {
        simplex[n] = (reflected, f_r);
        return;
    }
    // Contract towards the better of the reflected point (outside) and the worst (inside).
    let (toward, f_toward) = if f_r < worst.1 {
        (&reflected, f_r)
    } else {
        (&worst.0, worst.1)
    };
    let contracted = along(&centroid, toward, RHO);
    let f_c = eval(&contracted);
    if f_c < f_toward {
        simplex[n] = (contracted, f_c);
        return;
    }
    shrink(simplex, eval);
}

/// Centroid of the given vertices (all but the worst).
fn centroid(vertices: &[(Vec<f64>, f64)]) -> Vec<f64> {
    let dim = vertices.first().map_or(0, |v| v.0.len());
    let mut c = vec![0.0; dim];
    for (x, _) in vertices {
        for (ci, xi) in c.iter_mut().zip(x) {
            *ci += xi;
        }
    }
    let k = vertices.len() as f64;
    c.iter_mut().for_each(|ci| *ci /= k);
    c
}

/// The point `centroid + coef * (point - centroid)`.
fn along(centroid: &[f64], point: &[f64], coef: f64) -> Vec<f64> {
    centroid
        .iter()
        .zip(point)
        .map(|(c, p)| c + coef * (p - c))
        .collect()
}

/// Shrinks every vertex towards the best one.
fn shrink(simplex: &mut [(Vec<f64>, f64)], eval: &impl Fn(&[f64]) -> f64) {
    let best = simplex[0].0.clone();
    for vertex in simplex.iter_mut().skip(1) {
        let x = along(&best, &vertex.0, SIGMA);
        let v = eval(&x);
        *vertex = (x, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> f64 {
        (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
    }

    #[test]
    fn minimises_rosenbrock() {
        let (x, v) = nelder_mead(rosenbrock, &[-1.2, 1.0], 0.5, 1e-14, 10_000);
        assert!((x[0] - 1.0).abs() < 1e-4, "{x:?}");
        assert!((x[1] - 1.0).abs() < 1e-4, "{x:?}");
        assert!(v < 1e-8, "{v}");
    }

    #[test]
    fn minimises_shifted_quadratic_in_4d() {
        let target = [1.0, -2.0, 3.0, 0.5];
        let f = |x: &[f64]| x.iter().zip(&target).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
        let (x, v) = nelder_mead(f, &[0.0; 4], 1.0, 1e-16, 20_000);
        for (xi, ti) in x.iter().zip(&target) {
            assert!((xi - ti).abs() < 1e-5, "{x:?}");
        }
        assert!(v < 1e-9);
    }

    #[test]
    fn non_finite_values_are_avoided() {
        // Undefined (NaN) for x < 0: the minimum sits on the boundary at 0.
        let f = |x: &[f64]| {
            if x[0] < 0.0 {
                f64::NAN
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let (x, v) = nelder_mead(f, &[5.0], 1.0, 1e-14, 1_000);
        assert!((x[0] - 2.0).abs() < 1e-5);
        assert!(v.is_finite());
    }

    #[test]
    fn zero_iterations_returns_best_initial_vertex() {
        let (x, v) = nelder_mead(|x: &[f64]| x[0], &[1.0], -0.5, 1e-9, 0);
        assert_eq!(x, vec![0.5]);
        assert_eq!(v, 0.5);
    }

    #[test]
    fn empty_start_is_evaluated_once() {
        let (x, v) = nelder_mead(|_: &[f64]| 3.0, &[], 1.0, 1e-9, 10);
        assert!(x.is_empty());
        assert_eq!(v, 3.0);
    }

    #[test]
    fn is_deterministic() {
        let a = nelder_mead(rosenbrock, &[-1.2, 1.0], 0.5, 1e-12, 500);
        let b = nelder_mead(rosenbrock, &[-1.2, 1.0], 0.5, 1e-12, 500);
        assert_eq!(a, b);
    }
}
