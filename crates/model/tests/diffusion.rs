//! The diffusion pieces against a closed-form Gaussian: for data ~ N(mu, s^2) per dimension the
//! optimal denoiser is `D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2)`, and the
//! probability-flow ODE from `sigma_a` to `sigma_b` is exactly
//! `x_b = mu + (x_a - mu) sqrt(s^2 + sigma_b^2) / sqrt(s^2 + sigma_a^2)`.
//! Every sampler runs through the same checks.

use burn::prelude::*;
use worldrig_model::diffusion::{
    gaussian, guidance, guided, karras_sigmas, sample_heun_churn, Churn, Denoiser, Edm, KarrasSchedule, LogNormal,
    Sampler, Video2World,
};
use worldrig_model::rng::SplitMix64;

/// Per-channel Gaussian data on `[batch, channel, time, height, width]` tensors.
struct Gauss {
    mu: Vec<f64>,
    s: Vec<f64>,
    mu_t: Tensor<5>,
    s2_t: Tensor<5>,
}

impl Gauss {
    fn new(mu: &[f64], s: &[f64], device: &Device) -> Self {
        let c = mu.len();
        let t = |v: Vec<f32>| Tensor::<5>::from_data(TensorData::new(v, [1, c, 1, 1, 1]), device);
        Self {
            mu: mu.to_vec(),
            s: s.to_vec(),
            mu_t: t(mu.iter().map(|&m| m as f32).collect()),
            s2_t: t(s.iter().map(|&v| (v * v) as f32).collect()),
        }
    }
    fn standard() -> Self {
        Self::new(&[0.3, -1.0, 0.0], &[0.5, 0.2, 1.5], &Device::flex())
    }
    /// The exact denoiser.
    fn denoise(&self, x: Tensor<5>, sigma: f64) -> Tensor<5> {
        let s2 = sigma * sigma;
        (x * self.s2_t.clone() + self.mu_t.clone().mul_scalar(s2)) / self.s2_t.clone().add_scalar(s2)
    }
    /// The exact ODE solution from `sigma_a` to `sigma_b` of host values `x` of shape `dims`.
    fn flow(&self, x: &[f32], dims: [usize; 5], sigma_a: f64, sigma_b: f64) -> Vec<f64> {
        let inner = dims[2] * dims[3] * dims[4];
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let ch = (i / inner) % dims[1];
                let (mu, s2) = (self.mu[ch], self.s[ch] * self.s[ch]);
                mu + (v as f64 - mu) * ((s2 + sigma_b * sigma_b) / (s2 + sigma_a * sigma_a)).sqrt()
            })
            .collect()
    }
}

fn host(t: Tensor<5>) -> Vec<f32> {
    t.into_data().as_slice::<f32>().unwrap().to_vec()
}

const DIMS: [usize; 5] = [2, 3, 4, 2, 2];

/// Start noise `N(0, sigma_max^2)` of shape `dims`.
fn start(dims: [usize; 5], sigma_max: f64, seed: u64) -> Tensor<5> {
    gaussian(dims, &mut SplitMix64::new(seed), &Device::flex()).mul_scalar(sigma_max)
}

/// The largest error of the sampled ODE map over the elements (see [`rel_error`]), from a fixed start
/// drawn from `N(0, sigmas[0]^2)`.
fn ode_error(g: &Gauss, sampler: Sampler, sigmas: &[f64]) -> f64 {
    let x_t = start(DIMS, sigmas[0], 7);
    let want = g.flow(&host(x_t.clone()), DIMS, sigmas[0], *sigmas.last().unwrap());
    let got = host(sampler.sample(|x, s| g.denoise(x, s), x_t, sigmas));
    rel_error(g, &got, &want, DIMS)
}

/// `|got - want| / max(|want - mu|, s)`: relative where the exact `x - mu` exceeds one data standard
/// deviation, in units of `s` below (where f32 round-off of `mu` would dominate a relative error).
fn rel_error(g: &Gauss, got: &[f32], want: &[f64], dims: [usize; 5]) -> f64 {
    let inner = dims[2] * dims[3] * dims[4];
    let mut worst = 0.0f64;
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let ch = (i / inner) % dims[1];
        worst = worst.max((*a as f64 - b).abs() / (b - g.mu[ch]).abs().max(g.s[ch]));
    }
    worst
}

// (a) The probability-flow ODE.

/// Tolerances of the relative ODE error (measured: Euler 9.1e-2 / 4.0e-2, Heun 1.7e-2 / 3.0e-3,
/// DPM-Solver++(2M) 1.8e-2 / 3.1e-3 at 35 / 80 steps).
fn ode_tolerance(sampler: Sampler, steps: usize) -> f64 {
    match (sampler, steps) {
        (Sampler::Euler, 35) => 0.12,
        (Sampler::Euler, 80) => 0.05,
        (_, 35) => 0.025,
        (_, 80) => 0.004,
        _ => unreachable!(),
    }
}

#[test]
fn every_sampler_solves_the_gaussian_probability_flow_ode() {
    let g = Gauss::standard();
    for sampler in Sampler::ALL {
        for steps in [35, 80] {
            let e = ode_error(&g, sampler, &KarrasSchedule::default().sigmas(steps));
            let tol = ode_tolerance(sampler, steps);
            assert!(e < tol, "{} with {steps} steps: relative error {e:.3e} >= {tol}", sampler.name());
        }
    }
}

#[test]
fn errors_shrink_at_each_samplers_order() {
    let g = Gauss::standard();
    let k = KarrasSchedule::default();
    for sampler in Sampler::ALL {
        for n in [20, 40] {
            let (coarse, fine) = (ode_error(&g, sampler, &k.sigmas(n)), ode_error(&g, sampler, &k.sigmas(2 * n)));
            let order = (coarse / fine).log2();
            let want = sampler.order() as f64;
            assert!(
                (order - want).abs() < 0.3,
                "{}: {n} -> {} steps, error {coarse:.3e} -> {fine:.3e}, observed order {order:.2} (expected {want})",
                sampler.name(),
                2 * n
            );
        }
    }
}

#[test]
fn samplers_stop_at_the_last_sigma_of_any_schedule() {
    // Ending at sigma_min instead of 0 (no final jump): the exact flow to sigma_min.
    let g = Gauss::standard();
    let sigmas = KarrasSchedule::default().sigmas(80);
    for sampler in Sampler::ALL {
        let e = ode_error(&g, sampler, &sigmas[..80]);
        assert!(e < ode_tolerance(sampler, 80), "{}: {e:.3e}", sampler.name());
    }
    // An empty schedule returns the input.
    let x = start(DIMS, 1.0, 1);
    for sampler in Sampler::ALL {
        assert_eq!(host(sampler.sample(|x, s| g.denoise(x, s), x.clone(), &[])), host(x.clone()));
    }
}

#[test]
fn evaluations_are_counted_as_documented() {
    let g = Gauss::standard();
    let sigmas = KarrasSchedule::default().sigmas(12);
    for sampler in Sampler::ALL {
        let mut calls = 0;
        sampler.sample(
            |x, s| {
                assert!(s > 0.0, "denoise called at sigma 0");
                calls += 1;
                g.denoise(x, s)
            },
            start(DIMS, 80.0, 2),
            &sigmas,
        );
        assert_eq!(calls, sampler.evaluations(&sigmas), "{}", sampler.name());
    }
    assert_eq!(Sampler::Heun.evaluations(&sigmas), 23);
}

// (b) Sampling from N(0, sigma_max^2) gives the data distribution.

/// Per-channel mean and standard deviation of `[n, c, 1, 1, 1]` samples.
fn moments(v: &[f32], c: usize) -> Vec<(f64, f64)> {
    let n = v.len() / c;
    (0..c)
        .map(|ch| {
            let xs = (0..n).map(|i| v[i * c + ch] as f64);
            let mean = xs.clone().sum::<f64>() / n as f64;
            let var = xs.map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (mean, var.sqrt())
        })
        .collect()
}

/// Checks the per-channel moments of samples mapped from `x_T ~ N(0, sigma_max^2)`. The exact ODE
/// gives `mu (1 - k) + k x_T` with `k = s / sqrt(s^2 + sigma_max^2)`: mean `mu (1 - k)`, standard
/// deviation `k sigma_max`. Allowed: 4 standard errors plus `disc` (relative) for the discretisation,
/// plus `extra` in units of `s`.
fn check_moments(g: &Gauss, got: &[f32], n: usize, sigma_max: f64, disc: f64, extra: f64, what: &str) {
    for (ch, (mean, std)) in moments(got, g.mu.len()).into_iter().enumerate() {
        let (mu, s) = (g.mu[ch], g.s[ch]);
        let k = s / (s * s + sigma_max * sigma_max).sqrt();
        let (want_mean, want_std) = (mu * (1.0 - k), k * sigma_max);
        let tol_mean = 4.0 * want_std / (n as f64).sqrt() + extra * s;
        let tol_std = 4.0 * want_std / (2.0 * n as f64).sqrt() + disc * want_std + extra * s;
        assert!(
            (mean - want_mean).abs() < tol_mean,
            "{what}, channel {ch}: mean {mean:.4} vs {want_mean:.4} (tol {tol_mean:.4})"
        );
        assert!(
            (std - want_std).abs() < tol_std,
            "{what}, channel {ch}: std {std:.4} vs {want_std:.4} (tol {tol_std:.4})"
        );
    }
}

#[test]
fn every_sampler_maps_noise_to_the_data_distribution() {
    let g = Gauss::standard();
    let n = 4096;
    let dims = [n, 3, 1, 1, 1];
    let sigmas = KarrasSchedule::default().sigmas(80);
    for sampler in Sampler::ALL {
        let x_t = start(dims, 80.0, 11);
        let got = host(sampler.sample(|x, s| g.denoise(x, s), x_t, &sigmas));
        check_moments(&g, &got, n, 80.0, ode_tolerance(sampler, 80), 0.0, sampler.name());
    }
}

#[test]
fn heun_with_churn_samples_the_data_distribution_and_is_seeded() {
    let g = Gauss::standard();
    let n = 4096;
    let dims = [n, 3, 1, 1, 1];
    let sigmas = KarrasSchedule::default().sigmas(40);
    let churn = Churn { s_churn: 40.0, s_tmin: 0.05, s_tmax: 50.0, s_noise: 1.0 };
    let run = |seed| {
        let x_t = start(dims, 80.0, 13);
        host(sample_heun_churn(|x, s| g.denoise(x, s), x_t, &sigmas, &churn, &mut SplitMix64::new(seed)))
    };
    let got = run(5);
    // Churn partly forgets the start, whose mean 0 (not mu) the exact ODE keeps as the bias `mu k`:
    // allow that bias (under 0.02 s here) on top of the ODE's moments.
    check_moments(&g, &got, n, 80.0, 0.02, 0.02, "heun with churn");
    assert_eq!(got, run(5), "same seed, same samples");
    assert_ne!(got, run(6), "another seed, other samples");
    // s_churn = 0 is the deterministic Heun sampler.
    let x_t = start(dims, 80.0, 13);
    let plain = host(Sampler::Heun.sample(|x, s| g.denoise(x, s), x_t.clone(), &sigmas));
    let none = Churn::default();
    let zero = host(sample_heun_churn(|x, s| g.denoise(x, s), x_t, &sigmas, &none, &mut SplitMix64::new(1)));
    assert_eq!(plain, zero);
}

#[test]
fn sampling_is_deterministic_for_a_seed() {
    let g = Gauss::standard();
    let sigmas = KarrasSchedule::default().sigmas(10);
    for sampler in Sampler::ALL {
        let a = host(sampler.sample(|x, s| g.denoise(x, s), start(DIMS, 80.0, 3), &sigmas));
        let b = host(sampler.sample(|x, s| g.denoise(x, s), start(DIMS, 80.0, 3), &sigmas));
        assert_eq!(a, b, "{}", sampler.name());
    }
    assert_ne!(host(start(DIMS, 1.0, 3)), host(start(DIMS, 1.0, 4)));
}

// (c) EDM preconditioning.

#[test]
fn preconditioning_matches_the_paper() {
    let edm = Edm::default();
    assert_eq!(edm.sigma_data, 0.5);
    // Hand-evaluated table 1 of Karras et al. 2022 with sigma_data = 0.5.
    let table = [
        // sigma, c_skip, c_out, c_in, c_noise
        (0.5, 0.5, 0.353_553_390_593_273_73, 1.414_213_562_373_095_1, -0.173_286_795_139_986_3),
        (1.0, 0.2, 0.447_213_595_499_957_9, 0.894_427_190_999_915_9, 0.0),
        (80.0, 0.25 / 6400.25, 40.0 / 6400.25f64.sqrt(), 1.0 / 6400.25f64.sqrt(), 1.095_506_658_668_470_3),
        (0.002, 0.25 / 0.250_004, 0.001 / 0.250_004f64.sqrt(), 1.0 / 0.250_004f64.sqrt(), -1.553_652_024_605_548),
    ];
    for (sigma, c_skip, c_out, c_in, c_noise) in table {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        assert!(close(edm.c_skip(sigma), c_skip), "c_skip({sigma})");
        assert!(close(edm.c_out(sigma), c_out), "c_out({sigma})");
        assert!(close(edm.c_in(sigma), c_in), "c_in({sigma})");
        assert!(close(edm.c_noise(sigma), c_noise), "c_noise({sigma})");
    }
    for sigma in [0.002, 0.03, 0.5, 1.7, 80.0] {
        let sd = edm.sigma_data;
        let (c_skip, c_out, c_in) = (edm.c_skip(sigma), edm.c_out(sigma), edm.c_in(sigma));
        // Unit-variance network input and training target for y ~ N(0, sd^2), x = y + sigma n.
        assert!((c_in * c_in * (sd * sd + sigma * sigma) - 1.0).abs() < 1e-12);
        let target_var = ((1.0 - c_skip).powi(2) * sd * sd + c_skip * c_skip * sigma * sigma) / (c_out * c_out);
        assert!((target_var - 1.0).abs() < 1e-12, "target variance at {sigma}: {target_var}");
        // lambda = 1 / c_out^2.
        assert!((edm.loss_weight(sigma) * c_out * c_out - 1.0).abs() < 1e-12);
    }
}

#[test]
fn denoiser_with_the_ideal_network_is_the_exact_gaussian_denoiser() {
    let device = Device::flex();
    let edm = Edm::default();
    // mu = 0, s = sigma_data: the optimal denoiser is c_skip x, so the ideal network output is 0.
    let g0 = Gauss::new(&[0.0, 0.0, 0.0], &[0.5, 0.5, 0.5], &device);
    let zero = Denoiser::new(edm, |x: Tensor<5>, _: Tensor<1>, _: &()| x.zeros_like());
    // Any Gaussian: F = (D(x, sigma) - c_skip x) / c_out with x = x_in / c_in and sigma = e^(4 c_noise).
    let g = Gauss::standard();
    let ideal = Denoiser::new(edm, |x_in: Tensor<5>, c_noise: Tensor<1>, g: &Gauss| {
        let sigma = (4.0 * c_noise.into_data().as_slice::<f32>().unwrap().to_vec()[0] as f64).exp();
        let x = x_in.div_scalar(edm.c_in(sigma));
        (g.denoise(x.clone(), sigma) - x.mul_scalar(edm.c_skip(sigma))).div_scalar(edm.c_out(sigma))
    });
    for sigma in [0.002f64, 0.1, 0.5, 2.0, 80.0] {
        let x = start(DIMS, sigma.max(1.0), 17);
        let close = |a: Tensor<5>, b: Tensor<5>, what: &str| {
            let (a, b) = (host(a), host(b));
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let e = a.iter().zip(&b).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(e <= 2e-5 * scale, "{what} at sigma {sigma}: {e}");
        };
        close(zero.denoise(x.clone(), sigma, &()), g0.denoise(x.clone(), sigma), "F = 0");
        close(ideal.denoise(x.clone(), sigma, &g), g.denoise(x.clone(), sigma), "ideal F");
        // The per-sample path agrees with the shared-sigma one.
        let sig = Tensor::<1>::full([DIMS[0]], sigma, &device);
        close(zero.denoise_batch(x.clone(), sig, &()), g0.denoise(x, sigma), "F = 0, per-sample sigma");
    }
}

// Training: the loss and its sigma density.

#[test]
fn the_exact_denoiser_has_unit_expected_loss_at_every_sigma() {
    // For y ~ N(0, sd^2) the optimal denoiser's error variance is sd^2 sigma^2 / (sd^2 + sigma^2) =
    // c_out^2, so lambda |D - y|^2 has mean 1 (and variance 2) whatever the sigma density.
    let device = Device::flex();
    let edm = Edm::default();
    let zero = Denoiser::new(edm, |x: Tensor<5>, _: Tensor<1>, _: &()| x.zeros_like());
    let mut rng = SplitMix64::new(21);
    let dims = [2048, 4, 1, 1, 1];
    let y = gaussian(dims, &mut rng, &device).mul_scalar(edm.sigma_data);
    let noise = gaussian(dims, &mut rng, &device);
    let sigma = LogNormal::default().sample(dims[0], &mut rng, &device);
    let loss = worldrig_model::diffusion::denoising_loss(|x, s| zero.denoise_batch(x, s, &()), y, sigma, noise, 0.5);
    let loss = loss.into_scalar::<f32>() as f64;
    let tol = 4.0 * (2.0 / 8192.0f64).sqrt();
    assert!((loss - 1.0).abs() < tol, "loss {loss} (tol {tol})");
}

#[test]
fn log_normal_sigmas_have_the_configured_log_moments() {
    for p in [LogNormal::default(), LogNormal { p_mean: 0.4, p_std: 0.6 }] {
        let n = 20_000;
        let logs: Vec<f64> = p.sample_f64(n, &mut SplitMix64::new(9)).iter().map(|s| s.ln()).collect();
        let mean = logs.iter().sum::<f64>() / n as f64;
        let std = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let (tol_mean, tol_std) = (4.0 * p.p_std / (n as f64).sqrt(), 4.0 * p.p_std / (2.0 * n as f64).sqrt());
        assert!((mean - p.p_mean).abs() < tol_mean, "{p:?}: log-mean {mean}");
        assert!((std - p.p_std).abs() < tol_std, "{p:?}: log-std {std}");
        // The tensor draw is the same stream.
        let t = p.sample(8, &mut SplitMix64::new(9), &Device::flex()).into_data().as_slice::<f32>().unwrap().to_vec();
        let h = p.sample_f64(8, &mut SplitMix64::new(9));
        for (a, b) in t.iter().zip(&h) {
            assert!((*a as f64 - b).abs() <= 1e-6 * b);
        }
    }
}

// (d) Classifier-free guidance.

#[test]
fn guidance_scale_one_is_conditional_and_zero_unconditional() {
    let device = Device::flex();
    let cond = Gauss::standard();
    let uncond = Gauss::new(&[0.0, 0.5, 2.0], &[1.0, 0.3, 0.7], &device);
    let x = start(DIMS, 3.0, 23);
    let sigma = 1.3;
    let dc = host(cond.denoise(x.clone(), sigma));
    let du = host(uncond.denoise(x.clone(), sigma));
    let g1 = guided(|x, s| cond.denoise(x, s), |x, s| uncond.denoise(x, s), 1.0);
    let g0 = guided(|x, s| cond.denoise(x, s), |x, s| uncond.denoise(x, s), 0.0);
    assert_eq!(host(g1(x.clone(), sigma)), dc);
    assert_eq!(host(g0(x.clone(), sigma)), du);
    // The combination itself, at 0, 1 and 7.5 (extrapolating past the conditional estimate).
    for scale in [0.0, 1.0, 7.5] {
        let got = host(guidance(cond.denoise(x.clone(), sigma), uncond.denoise(x.clone(), sigma), scale));
        let g = guided(|x, s| cond.denoise(x, s), |x, s| uncond.denoise(x, s), scale);
        let wrapped = host(g(x.clone(), sigma));
        for i in 0..got.len() {
            let want = du[i] as f64 + scale * (dc[i] as f64 - du[i] as f64);
            assert!((got[i] as f64 - want).abs() < 1e-5 * want.abs().max(1.0), "scale {scale}");
            assert!((wrapped[i] as f64 - want).abs() < 1e-5 * want.abs().max(1.0), "scale {scale}");
        }
    }
    // A guided denoiser drives every sampler.
    let g = guided(|x, s| cond.denoise(x, s), |x, s| uncond.denoise(x, s), 1.0);
    let sigmas = KarrasSchedule::default().sigmas(80);
    for sampler in Sampler::ALL {
        let a = host(sampler.sample(&g, start(DIMS, 80.0, 7), &sigmas));
        let b = host(sampler.sample(|x, s| cond.denoise(x, s), start(DIMS, 80.0, 7), &sigmas));
        assert_eq!(a, b, "{}", sampler.name());
    }
}

// (e) Video2World.

#[test]
fn video2world_sampling_keeps_the_given_frames_and_generates_the_rest() {
    let device = Device::flex();
    let g = Gauss::standard();
    let v2w = Video2World { time_axis: 2, cond_frames: 2, augment_sigma: 0.01, sigma_data: 0.5 };
    let mut rng = SplitMix64::new(31);
    let latents = gaussian(DIMS, &mut rng, &device);
    let aug = gaussian(DIMS, &mut rng, &device);
    let sigmas = KarrasSchedule::default().sigmas(80);
    let x_t = start(DIMS, 80.0, 7);
    let free = g.flow(&host(x_t.clone()), DIMS, 80.0, 0.0);
    let lat = host(latents.clone());
    let inner = DIMS[3] * DIMS[4];
    let is_given = |i: usize| (i / inner) % DIMS[2] < 2;
    for sampler in Sampler::ALL {
        let denoise = v2w.conditioned(latents.clone(), aug.clone(), |x, s| g.denoise(x, s));
        let got = host(sampler.sample(&denoise, x_t.clone(), &sigmas));
        let (mut given, mut generated) = (0.0f64, Vec::new());
        for (i, v) in got.iter().enumerate() {
            if is_given(i) {
                given = given.max((v - lat[i]).abs() as f64);
            } else {
                generated.push((*v, free[i], i));
            }
        }
        // The given frames come out as the latents (the augmentation noise is only seen by the network).
        assert!(given < 1e-5, "{}: given frames off by {given}", sampler.name());
        // With per-dimension independent data the generated frames follow the unconditional ODE.
        let mut worst = 0.0f64;
        for (a, b, i) in &generated {
            let ch = (i / (DIMS[2] * inner)) % DIMS[1];
            worst = worst.max((*a as f64 - b).abs() / (b - g.mu[ch]).abs().max(g.s[ch]));
        }
        assert!(worst < ode_tolerance(sampler, 80), "{}: generated frames off by {worst:.3e}", sampler.name());
    }
}

#[test]
fn video2world_network_input_and_loss() {
    let device = Device::flex();
    let v2w = Video2World { time_axis: 2, cond_frames: 1, augment_sigma: 0.05, sigma_data: 0.5 };
    let mut rng = SplitMix64::new(41);
    let dims = [3, 2, 4, 2, 2];
    let x0 = gaussian(dims, &mut rng, &device).mul_scalar(0.5);
    let noise = gaussian(dims, &mut rng, &device);
    let aug = gaussian(dims, &mut rng, &device);
    let sigmas = [0.1f64, 1.0, 20.0];
    let sigma = Tensor::<1>::from_data(TensorData::new(sigmas.map(|s| s as f32).to_vec(), [3]), &device);
    let (hx0, hn, ha) = (host(x0.clone()), host(noise.clone()), host(aug.clone()));
    let frame = |i: usize| (i / 4) % 4;
    let sample = |i: usize| i / 32;

    // What the network sees: x0 + sigma n on generated frames; the given frames lightly noised and
    // pre-scaled by c_in(augment_sigma) / c_in(sigma).
    let seen = std::cell::RefCell::new(Vec::new());
    let loss = v2w.loss(
        |x, _| {
            *seen.borrow_mut() = host(x.clone());
            x
        },
        x0.clone(),
        sigma.clone(),
        noise.clone(),
        aug.clone(),
    );
    let edm = Edm::default();
    let mut want_loss = 0.0;
    for (i, v) in seen.borrow().iter().enumerate() {
        let s = sigmas[sample(i)];
        let want = if frame(i) == 0 {
            (hx0[i] as f64 + 0.05 * ha[i] as f64) * edm.c_in(0.05) / edm.c_in(s)
        } else {
            want_loss += edm.loss_weight(s) * (s * hn[i] as f64).powi(2);
            hx0[i] as f64 + s * hn[i] as f64
        };
        assert!((*v as f64 - want).abs() < 1e-5 * want.abs().max(1.0), "input {i}: {v} vs {want}");
    }
    // The loss is the mean over the generated frames only (3 of 4).
    want_loss /= 3.0 * 2.0 * 3.0 * 4.0;
    let loss = loss.into_scalar::<f32>() as f64;
    assert!((loss - want_loss).abs() < 1e-5 * want_loss, "loss {loss} vs {want_loss}");

    // Whatever the network makes of the given frames does not reach the loss.
    let mask = v2w.mask(dims, &device);
    let perfect_on_generated = |_x: Tensor<5>, _s: Tensor<1>| x0.clone().mask_fill(mask.clone(), 1.0e3);
    let loss = v2w.loss(perfect_on_generated, x0.clone(), sigma.clone(), noise.clone(), aug.clone());
    assert_eq!(loss.into_scalar::<f32>(), 0.0);

    // With no given frames it is the plain EDM loss.
    let plain = Video2World { cond_frames: 0, ..v2w };
    let a = plain.loss(|x, _| x.mul_scalar(0.9), x0.clone(), sigma.clone(), noise.clone(), aug).into_scalar::<f32>();
    let b =
        worldrig_model::diffusion::denoising_loss(|x, _| x.mul_scalar(0.9), x0, sigma, noise, 0.5).into_scalar::<f32>();
    assert!((a - b).abs() <= 1e-6 * b, "{a} vs {b}");
}

// (f) The Karras schedule.

#[test]
fn karras_schedule_endpoints_and_monotonicity() {
    for steps in [2, 18, 35, 80] {
        let s = KarrasSchedule::default().sigmas(steps);
        assert_eq!(s.len(), steps + 1);
        assert_eq!(s[0], 80.0);
        assert_eq!(s[steps - 1], 0.002);
        assert_eq!(s[steps], 0.0);
        assert!(s.windows(2).all(|w| w[0] > w[1]), "{steps} steps: not strictly decreasing");
    }
    // rho = 1 spaces sigmas evenly; rho = 7 puts them by sigma^(1/7).
    let lin = karras_sigmas(5, 1.0, 5.0, 1.0);
    for (a, b) in lin.iter().zip([5.0, 4.0, 3.0, 2.0, 1.0, 0.0]) {
        assert!((a - b).abs() < 1e-12, "{lin:?}");
    }
    let s = karras_sigmas(3, 0.002, 80.0, 7.0);
    let mid = ((80f64.powf(1.0 / 7.0) + 0.002f64.powf(1.0 / 7.0)) / 2.0).powi(7);
    assert!((s[1] - mid).abs() < 1e-12 * mid);
    assert_eq!(karras_sigmas(1, 0.002, 80.0, 7.0), vec![80.0, 0.0]);
    assert!(karras_sigmas(0, 0.002, 80.0, 7.0).is_empty());
}

#[test]
fn sampler_names_parse() {
    for sampler in Sampler::ALL {
        assert_eq!(sampler.name().parse::<Sampler>().unwrap(), sampler);
        assert_eq!(serde_json::to_string(&sampler).unwrap(), format!("\"{}\"", sampler.name()));
    }
    assert!("rk4".parse::<Sampler>().is_err());
}
