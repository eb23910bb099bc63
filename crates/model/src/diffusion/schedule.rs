//! The Karras sigma schedule (Karras et al. 2022, eq. 5): `steps` noise levels from `sigma_max` down
//! to `sigma_min`, evenly spaced in `sigma^(1/rho)`, then a final 0.

use serde::{Deserialize, Serialize};

/// Parameters of [`karras_sigmas`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KarrasSchedule {
    pub sigma_min: f64,
    pub sigma_max: f64,
    pub rho: f64,
}

impl Default for KarrasSchedule {
    /// EDM's `sigma_min = 0.002`, `sigma_max = 80`, `rho = 7` (Cosmos samples down to 0.0002).
    fn default() -> Self {
        Self { sigma_min: 0.002, sigma_max: 80.0, rho: 7.0 }
    }
}

impl KarrasSchedule {
    pub fn sigmas(&self, steps: usize) -> Vec<f64> {
        karras_sigmas(steps, self.sigma_min, self.sigma_max, self.rho)
    }
}

/// `steps + 1` values: `sigma_i = (sigma_max^(1/rho) + i / (steps - 1) (sigma_min^(1/rho) -
/// sigma_max^(1/rho)))^rho` for `i < steps`, then 0. One step gives `[sigma_max, 0]`; zero steps an
/// empty schedule (a sampler returns its input unchanged).
pub fn karras_sigmas(steps: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Vec<f64> {
    if steps == 0 {
        return Vec::new();
    }
    let (hi, lo) = (sigma_max.powf(1.0 / rho), sigma_min.powf(1.0 / rho));
    let mut out = Vec::with_capacity(steps + 1);
    out.push(sigma_max);
    for i in 1..steps {
        let t = i as f64 / (steps - 1) as f64;
        out.push((hi + t * (lo - hi)).powf(rho));
    }
    if steps > 1 {
        // Exact endpoints, free of powf round-off.
        out[steps - 1] = sigma_min;
    }
    out.push(0.0);
    out
}
