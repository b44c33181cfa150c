//! Seeded Gaussian noise that is bit-identical on every machine.
//!
//! xoshiro256** seeded through SplitMix64, and Box–Muller in Marsaglia's polar form. The
//! polar form needs no sin/cos, and the one logarithm it needs is computed here with basic
//! IEEE-754 arithmetic only: libm's `ln` may differ in the last bit between platforms, and a
//! one-bit difference in the initial noise changes the whole clip.

/// SplitMix64: expands a 64-bit seed into well-mixed state words.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Starts the sequence at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Deterministic standard-normal generator (xoshiro256** + polar Box–Muller).
#[derive(Debug, Clone)]
pub struct NoiseRng {
    state: [u64; 4],
    spare: Option<f64>,
}

impl NoiseRng {
    /// A generator for `seed`; equal seeds give equal sequences everywhere.
    pub fn new(seed: u64) -> Self {
        let mut splitmix = SplitMix64::new(seed);
        let state = [
            splitmix.next_u64(),
            splitmix.next_u64(),
            splitmix.next_u64(),
            splitmix.next_u64(),
        ];
        NoiseRng { state, spare: None }
    }

    /// Next raw 64-bit value (xoshiro256**).
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// One standard-normal sample.
    pub fn next_gaussian(&mut self) -> f64 {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        loop {
            let u = 2.0 * self.next_f64() - 1.0;
            let v = 2.0 * self.next_f64() - 1.0;
            let s = u * u + v * v;
            // s is at least 2^-106 when non-zero, always a normal float for portable_ln.
            if s > 0.0 && s < 1.0 {
                let scale = (-2.0 * portable_ln(s) / s).sqrt();
                self.spare = Some(v * scale);
                return u * scale;
            }
        }
    }

    /// `len` standard-normal samples as f32.
    pub fn gaussian_vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next_gaussian() as f32).collect()
    }
}

/// Natural logarithm of a positive, normal `x` using only +, -, *, / (exactly rounded in
/// IEEE-754, so identical everywhere). Accurate to a few ulps.
pub fn portable_ln(x: f64) -> f64 {
    debug_assert!(
        x.is_normal() && x > 0.0,
        "portable_ln needs a positive normal float"
    );
    const MANTISSA_BITS: u64 = (1 << 52) - 1;
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // Mantissa in [1, 2), then moved into [sqrt(1/2), sqrt(2)) so the series below converges fast.
    let mut mantissa = f64::from_bits((bits & MANTISSA_BITS) | (1023 << 52));
    if mantissa > std::f64::consts::SQRT_2 {
        mantissa /= 2.0;
        exponent += 1;
    }
    // ln(m) = 2 atanh(t) = 2 (t + t^3/3 + t^5/5 + ...), t = (m-1)/(m+1), |t| < 0.172.
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    for k in 0..16 {
        sum += term / (2 * k + 1) as f64;
        term *= t2;
    }
    exponent as f64 * std::f64::consts::LN_2 + 2.0 * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_values() {
        // First outputs of the reference C implementation for seed 0.
        let mut sm = SplitMix64::new(0);
        assert_eq!(sm.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(sm.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn same_seed_same_noise_and_different_seed_differs() {
        let a = NoiseRng::new(42).gaussian_vec(1000);
        let b = NoiseRng::new(42).gaussian_vec(1000);
        let c = NoiseRng::new(43).gaussian_vec(1000);
        assert_eq!(
            a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_ne!(a, c);
    }

    #[test]
    fn noise_is_standard_normal() {
        let samples = NoiseRng::new(7).gaussian_vec(200_000);
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = samples
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
    }

    #[test]
    fn portable_ln_agrees_with_libm() {
        let mut rng = NoiseRng::new(1);
        for _ in 0..10_000 {
            let x = rng.next_f64().max(1e-300) * 10f64.powi((rng.next_u64() % 40) as i32 - 20);
            let (ours, libm) = (portable_ln(x), x.ln());
            assert!(
                (ours - libm).abs() <= 4.0 * f64::EPSILON * libm.abs().max(1.0),
                "ln({x}): {ours} vs {libm}"
            );
        }
        assert_eq!(portable_ln(1.0), 0.0);
    }
}
