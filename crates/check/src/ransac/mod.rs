//! One generic robust estimation loop over an [`Estimator`]: random minimal samples, MSAC scoring,
//! adaptive iteration count, local optimisation and a final refit, reproducible from a seed.
//!
//! - Sampling: uniform minimal samples without replacement from [`crate::rng::SplitMix64`]
//!   (M. A. Fischler and R. C. Bolles, "Random sample consensus", CACM 24(6), 1981).
//! - Scoring: MSAC, the truncated quadratic cost `sum_i min(r_i^2, T^2)` (P. H. S. Torr and
//!   A. Zisserman, "MLESAC: a new robust estimator with application to estimating image geometry",
//!   CVIU 78(1), 2000); lower is better. A model's scoring stops as soon as its partial cost exceeds
//!   the best cost so far (it cannot win).
//! - Iterations: `k = log(1 - confidence) / log(1 - w^s)` with `w` the best inlier ratio and `s` the
//!   sample size, updated at each new best; at least `min_iterations`, at most `max_iterations`.
//! - Local optimisation (O. Chum, J. Matas and J. Kittler, "Locally optimized RANSAC", DAGM 2003;
//!   with the iterated least squares and shrinking threshold of K. Lebeda, J. Matas and O. Chum,
//!   "Fixed locally optimized RANSAC", BMVC 2012): at each new best, the model is refitted by
//!   [`Estimator::refine`] on its inliers at `lo_threshold_multiplier * T`, shrinking linearly to
//!   `T` over `lo_steps` steps; a refit is kept only if it lowers the MSAC cost. The final model gets
//!   the same treatment.
//!
//! - Early rejection: Wald's sequential probability ratio test on the inlier indicator (J. Matas and
//!   O. Chum, "Randomized RANSAC with sequential probability ratio test", ICCV 2005; O. Chum and
//!   J. Matas, "Optimal randomized RANSAC", TPAMI 30(8), 2008): `epsilon` is the best model's
//!   inlier ratio, `delta` the running consistency rate of rejected models, and the decision
//!   threshold `A` solves `A = t_M C + 1 + ln A` with `t_M` = [`Estimator::MODEL_COST`]. A good
//!   model is rejected with probability about `1/A`, which the iteration count accounts for:
//!   `k = log(1 - confidence) / log(1 - w^s (1 - 1/A))`.
//!
//! Residuals are in the estimator's unit and not squared; `threshold` is in the same unit. The
//! inner loop allocates nothing except the models an estimator returns.

// Negated comparisons (`!(x > 0.0)`) are deliberate: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// A model family for [`ransac`].
pub trait Estimator {
    type Model: Clone;
    /// Size of a minimal sample.
    const SAMPLE_SIZE: usize;
    /// Cost of producing one model, in residual evaluations (tunes the SPRT decision threshold; a
    /// rough figure is enough).
    const MODEL_COST: f64 = 100.0;
    /// Number of data points (indices `0..num_data()`).
    fn num_data(&self) -> usize;
    /// All models through the minimal sample (`SAMPLE_SIZE` distinct indices); empty for a
    /// degenerate sample (not an error).
    fn estimate(&self, sample: &[usize]) -> Vec<Self::Model>;
    /// Residual of datum `i`, not squared, in the unit of [`RansacConfig::threshold`].
    fn residual(&self, model: &Self::Model, i: usize) -> f64;
    /// Non-minimal refit on `inliers` (local optimisation and final refit); `None` when unsupported
    /// or degenerate.
    fn refine(&self, _model: &Self::Model, _inliers: &[usize]) -> Option<Self::Model> {
        None
    }
}

/// Settings of [`ransac`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RansacConfig {
    /// Inlier threshold on the residual (estimator unit, not squared).
    pub threshold: f64,
    /// Probability of drawing at least one all-inlier sample, for the adaptive stop.
    pub confidence: f64,
    pub min_iterations: usize,
    pub max_iterations: usize,
    pub seed: u64,
    /// Local optimisation at each new best and on the final model.
    pub local_optimization: bool,
    /// Refits per local optimisation.
    pub lo_steps: usize,
    /// Threshold multiplier of the first local-optimisation refit (shrinks to 1).
    pub lo_threshold_multiplier: f64,
    /// Early rejection of bad models by Wald's sequential probability ratio test.
    pub sprt: bool,
}

impl Default for RansacConfig {
    fn default() -> Self {
        Self {
            threshold: 1.0,
            confidence: 0.999,
            min_iterations: 0,
            max_iterations: 10_000,
            seed: 0,
            local_optimization: true,
            lo_steps: 4,
            lo_threshold_multiplier: 2.0,
            sprt: true,
        }
    }
}

/// Why [`ransac`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// The adaptive iteration count for the requested confidence was reached.
    ConfidenceReached,
    /// `max_iterations` was reached first.
    MaxIterations,
    /// Fewer data than a minimal sample.
    TooFewData,
    /// No sample produced a model.
    NoModel,
}

/// Outcome of [`ransac`].
#[derive(Clone, Debug)]
pub struct RansacReport<M> {
    pub model: Option<M>,
    /// Indices with residual `<= threshold` under `model`, ascending.
    pub inliers: Vec<usize>,
    /// Minimal samples drawn.
    pub iterations: usize,
    pub stop: StopReason,
    /// MSAC cost of `model`, `sum_i min(r_i^2, T^2)` (threshold unit squared); infinite without a model.
    pub score: f64,
}

/// Wald's SPRT state (see the module documentation).
struct Sprt {
    epsilon: f64,
    delta: f64,
    model_cost: f64,
    log_accept: f64,
    log_reject: f64,
    log_a: f64,
    /// 1 - 1/A: probability that a good model passes.
    pass_rate: f64,
    tested: f64,
    consistent: f64,
}

impl Sprt {
    const PRIOR_POINTS: f64 = 200.0;

    fn new(model_cost: f64) -> Self {
        let mut s = Self {
            epsilon: 0.1,
            delta: 0.01,
            model_cost: model_cost.max(1.0),
            log_accept: 0.0,
            log_reject: 0.0,
            log_a: f64::INFINITY,
            pass_rate: 1.0,
            tested: Self::PRIOR_POINTS,
            consistent: Self::PRIOR_POINTS * 0.01,
        };
        s.update();
        s
    }

    fn update(&mut self) {
        let eps = self.epsilon.clamp(1e-3, 1.0 - 1e-6);
        let delta = self.delta.clamp(1e-4, 0.5 * eps);
        self.log_accept = (delta / eps).ln();
        self.log_reject = ((1.0 - delta) / (1.0 - eps)).ln();
        // Expected log-likelihood-ratio increment per point of a bad model.
        let c = (1.0 - delta) * self.log_reject + delta * self.log_accept;
        if !(c > 1e-9) {
            self.log_a = f64::INFINITY;
            self.pass_rate = 1.0;
            return;
        }
        let a0 = self.model_cost * c + 1.0;
        let mut a = a0;
        for _ in 0..20 {
            a = a0 + a.ln();
        }
        self.log_a = a.ln();
        self.pass_rate = 1.0 - 1.0 / a;
    }

    fn set_epsilon(&mut self, eps: f64) {
        self.epsilon = eps;
        self.update();
    }

    fn record_rejection(&mut self, tested: usize, consistent: usize) {
        self.tested += tested as f64;
        self.consistent += consistent as f64;
        let d = self.consistent / self.tested;
        if (d - self.delta).abs() > 0.05 * self.delta {
            self.delta = d;
            self.update();
        }
    }
}

enum Verdict {
    Scored(f64, usize),
    /// The partial MSAC cost reached the bound.
    Bounded,
    /// SPRT rejected after `tested` points, `consistent` of them inliers.
    Rejected(usize, usize),
}

/// MSAC cost and inlier count, stopping early on the cost bound or an SPRT rejection.
#[inline]
fn evaluate<E: Estimator>(
    est: &E,
    model: &E::Model,
    thr2: f64,
    bound: f64,
    sprt: Option<&Sprt>,
) -> Verdict {
    let mut cost = 0.0;
    let mut count = 0;
    let mut log_lambda = 0.0;
    for i in 0..est.num_data() {
        let r = est.residual(model, i);
        let r2 = r * r;
        let inlier = r2 <= thr2;
        if inlier {
            cost += r2;
            count += 1;
        } else {
            cost += thr2; // also for NaN residuals
        }
        if cost >= bound {
            return Verdict::Bounded;
        }
        if let Some(t) = sprt {
            log_lambda += if inlier { t.log_accept } else { t.log_reject };
            if log_lambda > t.log_a {
                return Verdict::Rejected(i + 1, count);
            }
        }
    }
    Verdict::Scored(cost, count)
}

/// MSAC cost and inlier count, or `None` once the partial cost reaches `bound`.
#[inline]
fn msac<E: Estimator>(est: &E, model: &E::Model, thr2: f64, bound: f64) -> Option<(f64, usize)> {
    match evaluate(est, model, thr2, bound, None) {
        Verdict::Scored(c, k) => Some((c, k)),
        _ => None,
    }
}

fn collect_inliers<E: Estimator>(est: &E, model: &E::Model, thr2: f64, out: &mut Vec<usize>) {
    out.clear();
    for i in 0..est.num_data() {
        let r = est.residual(model, i);
        if r * r <= thr2 {
            out.push(i);
        }
    }
}

/// Iterations needed to draw an all-inlier sample of size `s` with probability `confidence`
/// (`usize::MAX` when that is `max` or more).
fn required_iterations(
    inliers: usize,
    n: usize,
    s: usize,
    confidence: f64,
    max: usize,
    pass_rate: f64,
) -> usize {
    if n == 0 {
        return usize::MAX;
    }
    let w = inliers as f64 / n as f64;
    let ws = w.powi(s as i32) * pass_rate.clamp(0.0, 1.0);
    if ws >= 1.0 {
        return 1;
    }
    if !(ws > 0.0) {
        return usize::MAX;
    }
    let num = (1.0 - confidence.clamp(0.0, 1.0 - 1e-15)).ln();
    let den = (-ws).ln_1p();
    let k = (num / den).ceil();
    if k.is_finite() && k < max as f64 {
        (k as usize).max(1)
    } else {
        usize::MAX
    }
}

struct Best<M> {
    model: M,
    cost: f64,
    count: usize,
}

fn local_optimize<E: Estimator>(
    est: &E,
    start: Best<E::Model>,
    cfg: &RansacConfig,
    buf: &mut Vec<usize>,
) -> Best<E::Model> {
    let thr2 = cfg.threshold * cfg.threshold;
    let steps = cfg.lo_steps.max(1);
    let m0 = cfg.lo_threshold_multiplier.max(1.0);
    let mut best = start;
    for step in 0..steps {
        let mult = if steps == 1 {
            1.0
        } else {
            m0 + (1.0 - m0) * step as f64 / (steps - 1) as f64
        };
        collect_inliers(est, &best.model, thr2 * mult * mult, buf);
        if buf.len() < E::SAMPLE_SIZE {
            break;
        }
        let Some(model) = est.refine(&best.model, buf) else {
            break;
        };
        if let Some((cost, count)) = msac(est, &model, thr2, best.cost) {
            best = Best { model, cost, count };
        }
    }
    best
}

/// Runs the robust loop (see the module documentation). Deterministic for a given seed.
pub fn ransac<E: Estimator>(est: &E, cfg: &RansacConfig) -> RansacReport<E::Model> {
    let n = est.num_data();
    let s = E::SAMPLE_SIZE;
    if n < s || s == 0 {
        return RansacReport {
            model: None,
            inliers: Vec::new(),
            iterations: 0,
            stop: StopReason::TooFewData,
            score: f64::INFINITY,
        };
    }
    let thr2 = cfg.threshold * cfg.threshold;
    let mut rng = SplitMix64::new(cfg.seed);
    let mut sample = vec![0usize; s];
    let mut buf: Vec<usize> = Vec::with_capacity(n);
    let mut best: Option<Best<E::Model>> = None;
    let mut needed = usize::MAX;
    let mut sprt = cfg.sprt.then(|| Sprt::new(E::MODEL_COST));
    let mut iterations = 0;
    let mut stop = StopReason::MaxIterations;
    while iterations < cfg.max_iterations {
        if iterations >= cfg.min_iterations && iterations >= needed {
            stop = StopReason::ConfidenceReached;
            break;
        }
        iterations += 1;
        for k in 0..s {
            loop {
                let v = rng.below(n);
                if !sample[..k].contains(&v) {
                    sample[k] = v;
                    break;
                }
            }
        }
        for model in est.estimate(&sample) {
            let bound = best.as_ref().map_or(f64::INFINITY, |b| b.cost);
            let (cost, count) = match evaluate(est, &model, thr2, bound, sprt.as_ref()) {
                Verdict::Scored(c, k) => (c, k),
                Verdict::Bounded => continue,
                Verdict::Rejected(tested, consistent) => {
                    if let Some(t) = sprt.as_mut() {
                        t.record_rejection(tested, consistent);
                    }
                    continue;
                }
            };
            let mut cand = Best { model, cost, count };
            if cfg.local_optimization && count > s {
                cand = local_optimize(est, cand, cfg, &mut buf);
            }
            let mut pass_rate = 1.0;
            if let Some(t) = sprt.as_mut() {
                t.set_epsilon(cand.count as f64 / n as f64);
                pass_rate = t.pass_rate;
            }
            needed = required_iterations(
                cand.count,
                n,
                s,
                cfg.confidence,
                cfg.max_iterations,
                pass_rate,
            );
            best = Some(cand);
        }
    }
    if iterations >= cfg.max_iterations && iterations >= needed && iterations >= cfg.min_iterations
    {
        stop = StopReason::ConfidenceReached;
    }
    let Some(mut b) = best else {
        return RansacReport {
            model: None,
            inliers: Vec::new(),
            iterations,
            stop: StopReason::NoModel,
            score: f64::INFINITY,
        };
    };
    // Final refit on the inliers (several rounds when local optimisation is on).
    let final_cfg = RansacConfig {
        lo_steps: if cfg.local_optimization {
            cfg.lo_steps.max(2)
        } else {
            1
        },
        lo_threshold_multiplier: 1.0,
        ..cfg.clone()
    };
    b = local_optimize(est, b, &final_cfg, &mut buf);
    collect_inliers(est, &b.model, thr2, &mut buf);
    RansacReport {
        model: Some(b.model),
        inliers: buf,
        iterations,
        stop,
        score: b.cost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Toy estimator: 2-D lines `a x + b y + c = 0` (unit normal), residual = distance.
    struct Lines {
        pts: Vec<(f64, f64)>,
    }

    impl Estimator for Lines {
        type Model = (f64, f64, f64);
        const SAMPLE_SIZE: usize = 2;
        fn num_data(&self) -> usize {
            self.pts.len()
        }
        fn estimate(&self, s: &[usize]) -> Vec<Self::Model> {
            let (p, q) = (self.pts[s[0]], self.pts[s[1]]);
            let (dx, dy) = (q.0 - p.0, q.1 - p.1);
            let l = (dx * dx + dy * dy).sqrt();
            if l < 1e-12 {
                return Vec::new();
            }
            let (a, b) = (-dy / l, dx / l);
            vec![(a, b, -(a * p.0 + b * p.1))]
        }
        fn residual(&self, m: &Self::Model, i: usize) -> f64 {
            let p = self.pts[i];
            (m.0 * p.0 + m.1 * p.1 + m.2).abs()
        }
        fn refine(&self, _m: &Self::Model, inl: &[usize]) -> Option<Self::Model> {
            // Total least squares.
            let n = inl.len() as f64;
            let (mx, my) = inl.iter().fold((0.0, 0.0), |a, &i| {
                (a.0 + self.pts[i].0, a.1 + self.pts[i].1)
            });
            let (mx, my) = (mx / n, my / n);
            let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
            for &i in inl {
                let (x, y) = (self.pts[i].0 - mx, self.pts[i].1 - my);
                sxx += x * x;
                sxy += x * y;
                syy += y * y;
            }
            let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
            let (a, b) = (-theta.sin(), theta.cos());
            Some((a, b, -(a * mx + b * my)))
        }
    }

    fn data(seed: u64, n: usize, outlier_ratio: f64) -> Lines {
        let mut rng = SplitMix64::new(seed);
        let pts = (0..n)
            .map(|_| {
                if rng.unit_f64() < outlier_ratio {
                    (rng.unit_f64() * 100.0, rng.unit_f64() * 100.0)
                } else {
                    let x = rng.unit_f64() * 100.0;
                    (x, 0.5 * x + 10.0 + 0.1 * rng.normal())
                }
            })
            .collect();
        Lines { pts }
    }

    #[test]
    fn finds_line_among_outliers_and_is_reproducible() {
        let est = data(1, 500, 0.6);
        let cfg = RansacConfig {
            threshold: 0.3,
            seed: 7,
            ..Default::default()
        };
        let r = ransac(&est, &cfg);
        let m = r.model.expect("model");
        assert!((-m.0 / m.1 - 0.5).abs() < 0.01, "{m:?}");
        assert!(r.inliers.len() > 180);
        assert_eq!(r.stop, StopReason::ConfidenceReached);
        let again = ransac(&est, &cfg);
        assert_eq!(again.inliers, r.inliers);
        assert_eq!(again.iterations, r.iterations);
        let other = ransac(
            &est,
            &RansacConfig {
                seed: 8,
                ..cfg.clone()
            },
        );
        assert!(other.model.is_some());
    }

    #[test]
    fn reports_too_few_data_and_max_iterations() {
        let est = Lines {
            pts: vec![(0.0, 0.0)],
        };
        assert_eq!(
            ransac(&est, &RansacConfig::default()).stop,
            StopReason::TooFewData
        );
        let est = data(2, 300, 0.95);
        let cfg = RansacConfig {
            threshold: 0.01,
            max_iterations: 5,
            sprt: false,
            ..Default::default()
        };
        let r = ransac(&est, &cfg);
        assert_eq!(r.iterations, 5);
        assert_eq!(r.stop, StopReason::MaxIterations);
        // With SPRT every one of those poor models may be rejected.
        let r = ransac(&est, &RansacConfig { sprt: true, ..cfg });
        assert!(matches!(
            r.stop,
            StopReason::MaxIterations | StopReason::NoModel
        ));
        let same = Lines {
            pts: vec![(1.0, 1.0); 10],
        };
        assert_eq!(
            ransac(&same, &RansacConfig::default()).stop,
            StopReason::NoModel
        );
    }

    #[test]
    fn iteration_formula() {
        assert_eq!(required_iterations(100, 100, 5, 0.99, 1000, 1.0), 1);
        assert_eq!(required_iterations(0, 100, 5, 0.99, 1000, 1.0), usize::MAX);
        // w = 0.5, s = 2: log(0.01)/log(0.75) = 16.008 -> 17.
        assert_eq!(required_iterations(50, 100, 2, 0.99, 1000, 1.0), 17);
        assert!(required_iterations(50, 100, 2, 0.99, 1000, 0.9) > 17);
    }
}
