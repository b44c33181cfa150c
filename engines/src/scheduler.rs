//! Flow-matching Euler sampler, as diffusers' `FlowMatchEulerDiscreteScheduler` does it when a
//! pipeline passes `sigmas = linspace(1, 1/steps, steps)` (LTX-Video, LTX-2, Wan): shift each
//! sigma with `shift * s / (1 + (shift - 1) * s)`, append a terminal 0, and step with
//! `x += (sigma_next - sigma) * velocity`.

/// The noise levels for `steps` steps: `steps + 1` values from 1.0 down to a terminal 0.0.
pub fn flow_match_sigmas(steps: u32, shift: f64) -> Vec<f64> {
    let n = steps.max(1) as usize;
    let first = 1.0;
    let last = 1.0 / n as f64;
    let mut sigmas: Vec<f64> = (0..n)
        .map(|i| {
            // np.linspace: start + i * (stop - start) / (n - 1), exact at both ends.
            let s = if n == 1 {
                first
            } else {
                first + i as f64 * (last - first) / (n - 1) as f64
            };
            shift * s / (1.0 + (shift - 1.0) * s)
        })
        .collect();
    sigmas.push(0.0);
    sigmas
}

/// The denoiser's `timestep` input for a sigma (diffusers: `sigma * num_train_timesteps`).
pub fn timestep_for(sigma: f64, num_train_timesteps: u32) -> f32 {
    (sigma * num_train_timesteps as f64) as f32
}

/// One Euler step in place: `latent += (sigma_next - sigma) * velocity`.
pub fn euler_step(latent: &mut [f32], velocity: &[f32], sigma: f64, sigma_next: f64) {
    let dt = (sigma_next - sigma) as f32;
    for (x, v) in latent.iter_mut().zip(velocity) {
        *x += dt * v;
    }
}

/// Classifier-free guidance in place: `cond = uncond + scale * (cond - uncond)`.
pub fn apply_guidance(cond: &mut [f32], uncond: &[f32], scale: f32) {
    for (c, u) in cond.iter_mut().zip(uncond) {
        *c = u + scale * (*c - u);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn sigmas_match_diffusers_formula() {
        // Computed with numpy: s = linspace(1, 1/steps, steps); shift*s/(1+(shift-1)*s); + [0].
        assert_close(
            &flow_match_sigmas(8, 3.0),
            &[
                1.0,
                0.9545454545454546,
                0.9,
                0.8333333333333334,
                0.75,
                0.6428571428571429,
                0.5,
                0.3,
                0.0,
            ],
        );
        assert_close(&flow_match_sigmas(4, 1.0), &[1.0, 0.75, 0.5, 0.25, 0.0]);
        assert_close(
            &flow_match_sigmas(5, 2.5),
            &[
                1.0,
                0.9090909090909091,
                0.7894736842105263,
                0.6249999999999999,
                0.3846153846153846,
                0.0,
            ],
        );
        assert_close(&flow_match_sigmas(1, 3.0), &[1.0, 0.0]);
    }

    #[test]
    fn euler_steps_integrate_a_constant_velocity_exactly() {
        // The step sizes sum to sigma_end - sigma_start = -1, so a constant velocity v moves
        // x by exactly -v whatever the number of steps or the shift.
        let sigmas = flow_match_sigmas(6, 3.0);
        let mut x = vec![1.0f32, -2.0];
        for pair in sigmas.windows(2) {
            euler_step(&mut x, &[0.5, 0.25], pair[0], pair[1]);
        }
        assert!(
            (x[0] - 0.5).abs() < 1e-6 && (x[1] + 2.25).abs() < 1e-6,
            "{x:?}"
        );
        assert_eq!(timestep_for(0.5, 1000), 500.0);
    }

    #[test]
    fn guidance_extrapolates_from_uncond() {
        let mut cond = vec![1.0f32, 3.0];
        apply_guidance(&mut cond, &[0.0, 1.0], 2.0);
        assert_eq!(cond, vec![2.0, 5.0]);
    }
}
