//! Choosing the next token from logits: penalties, temperature, top-k, min-p and top-p, with a
//! seeded generator so the same seed gives the same text. A constraint (JSON decoding) may veto
//! tokens; the sampler then draws from what is left, so the constraint never forces a token the
//! distribution gave no weight when an allowed one had some.

use std::collections::HashMap;

/// How a request wants its tokens chosen (OpenAI's and vLLM's parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 chooses the most likely token every time.
    pub temperature: f32,
    /// Keep the smallest set of tokens whose probabilities add up to this (1 = all).
    pub top_p: f32,
    /// Keep this many most likely tokens (0 = all).
    pub top_k: usize,
    /// Drop tokens less likely than this fraction of the most likely one (0 = none).
    pub min_p: f32,
    /// >1 makes every token already in the prompt or the output less likely (1 = off).
    pub repetition_penalty: f32,
    /// Subtracted once from every token already in the output.
    pub presence_penalty: f32,
    /// Subtracted from a token once per time it is already in the output.
    pub frequency_penalty: f32,
    /// Added to a token's logit.
    pub logit_bias: Vec<(u32, f32)>,
    pub seed: Option<u64>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            logit_bias: Vec::new(),
            seed: None,
        }
    }
}

/// SplitMix64: small, fast and the same on every platform, which is what a seed promises.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The sampler of one sequence: its parameters, random state and what it has produced.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// Tokens of the prompt and the output (for the repetition penalty).
    seen: HashMap<u32, ()>,
    /// How often each token is in the output (presence and frequency penalties).
    output_counts: HashMap<u32, u32>,
}

impl Sampler {
    /// A sampler for a sequence that starts with `prompt`.
    pub fn new(params: SamplingParams, prompt: &[u32]) -> Self {
        let seed = params.seed.unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            // Without a seed any starting point will do; the clock is the fallback.
            if getrandom::fill(&mut bytes).is_err() {
                bytes = (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64))
                .to_le_bytes();
            }
            u64::from_le_bytes(bytes)
        });
        let seen = if params.repetition_penalty == 1.0 {
            HashMap::new()
        } else {
            prompt.iter().map(|&t| (t, ())).collect()
        };
        Self {
            params,
            rng: Rng(seed),
            seen,
            output_counts: HashMap::new(),
        }
    }

    /// Records a chosen token.
    pub fn accept(&mut self, token: u32) {
        *self.output_counts.entry(token).or_default() += 1;
        if self.params.repetition_penalty != 1.0 {
            self.seen.insert(token, ());
        }
    }

    fn penalize(&self, logits: &mut [f32]) {
        for &(token, bias) in &self.params.logit_bias {
            if let Some(logit) = logits.get_mut(token as usize) {
                *logit += bias;
            }
        }
        let r = self.params.repetition_penalty;
        if r != 1.0 {
            for &token in self.seen.keys() {
                if let Some(logit) = logits.get_mut(token as usize) {
                    *logit = if *logit > 0.0 { *logit / r } else { *logit * r };
                }
            }
        }
        let (presence, frequency) = (self.params.presence_penalty, self.params.frequency_penalty);
        if presence != 0.0 || frequency != 0.0 {
            for (&token, &count) in &self.output_counts {
                if let Some(logit) = logits.get_mut(token as usize) {
                    *logit -= presence + frequency * count as f32;
                }
            }
        }
    }

    /// The next token, or `None` when `allowed` refuses every token.
    pub fn sample(
        &mut self,
        logits: &mut [f32],
        mut allowed: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        self.penalize(logits);
        if self.params.temperature <= 0.0 {
            return greedy(logits, &mut allowed);
        }
        let inverse = 1.0 / self.params.temperature;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0f64;
        for logit in logits.iter_mut() {
            let p = (((*logit - max) * inverse) as f64).exp();
            *logit = p as f32;
            total += p;
        }
        // `logits` now holds unnormalized probabilities.
        let vocabulary = logits.len();
        let p_max = 1.0 / total;
        let mut floor = 0.0f64;
        if self.params.min_p > 0.0 {
            floor = floor.max(f64::from(self.params.min_p) * p_max);
        }
        if self.params.top_p < 1.0 {
            // Tokens below (1 - top_p) / V hold less than 1 - top_p together, so they lie past
            // the top-p cut whatever their order: skipping them keeps the sort short.
            floor = floor.max((1.0 - f64::from(self.params.top_p)) / vocabulary as f64);
        }
        let mut candidates: Vec<(u32, f64)> = logits
            .iter()
            .enumerate()
            .map(|(id, &w)| (id as u32, f64::from(w) / total))
            .filter(|&(_, p)| p >= floor && p > 0.0)
            .collect();
        let truncating = self.params.top_k > 0 || self.params.top_p < 1.0;
        if truncating {
            candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
            if self.params.top_k > 0 {
                candidates.truncate(self.params.top_k);
            }
            if self.params.top_p < 1.0 {
                let mut sum = 0.0;
                let cut = candidates
                    .iter()
                    .position(|&(_, p)| {
                        sum += p;
                        sum >= f64::from(self.params.top_p)
                    })
                    .map_or(candidates.len(), |i| i + 1);
                candidates.truncate(cut);
            }
        }
        // Draw, and draw again without a vetoed token: the same as drawing from the allowed ones.
        while !candidates.is_empty() {
            let index = self.draw(&candidates);
            let (token, _) = candidates.swap_remove(index);
            if allowed(token) {
                return Some(token);
            }
        }
        // Every kept token was vetoed: fall back to all allowed tokens by their probability.
        let fallback: Vec<(u32, f64)> = (0..vocabulary as u32)
            .filter(|&t| allowed(t))
            .map(|t| (t, f64::from(logits[t as usize])))
            .collect();
        if fallback.is_empty() {
            return None;
        }
        if fallback.iter().all(|&(_, w)| w <= 0.0) {
            return Some(fallback[0].0);
        }
        let index = self.draw(&fallback);
        Some(fallback[index].0)
    }

    fn draw(&mut self, weighted: &[(u32, f64)]) -> usize {
        let total: f64 = weighted.iter().map(|&(_, w)| w).sum();
        let mut target = self.rng.next_f64() * total;
        for (i, &(_, w)) in weighted.iter().enumerate() {
            target -= w;
            if target < 0.0 {
                return i;
            }
        }
        weighted.len() - 1
    }
}

fn greedy(logits: &[f32], allowed: &mut impl FnMut(u32) -> bool) -> Option<u32> {
    let best = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i as u32)?;
    if allowed(best) {
        return Some(best);
    }
    let mut order: Vec<u32> = (0..logits.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
    order.into_iter().find(|&t| allowed(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            seed: Some(7),
            ..SamplingParams::default()
        }
    }

    #[test]
    fn temperature_zero_is_argmax_and_respects_vetoes() {
        let mut sampler = Sampler::new(params(0.0), &[]);
        assert_eq!(sampler.sample(&mut [0.1, 3.0, 2.0], |_| true), Some(1));
        assert_eq!(sampler.sample(&mut [0.1, 3.0, 2.0], |t| t != 1), Some(2));
        assert_eq!(sampler.sample(&mut [0.1, 3.0, 2.0], |_| false), None);
    }

    #[test]
    fn the_same_seed_draws_the_same_tokens() {
        let logits = [1.0f32, 1.1, 0.9, 1.05, 0.95];
        let run = |seed| {
            let mut sampler = Sampler::new(
                SamplingParams {
                    seed: Some(seed),
                    ..params(1.0)
                },
                &[],
            );
            (0..32)
                .map(|_| sampler.sample(&mut logits.clone(), |_| true).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        assert!(
            run(42)
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 2
        );
    }

    #[test]
    fn top_k_top_p_and_min_p_cut_the_tail() {
        let logits = [5.0f32, 4.9, 0.0, -1.0, -2.0];
        let draws = |params: SamplingParams| {
            let mut sampler = Sampler::new(params, &[]);
            (0..200)
                .map(|_| sampler.sample(&mut logits.clone(), |_| true).unwrap())
                .collect::<std::collections::HashSet<_>>()
        };
        let top_k = draws(SamplingParams {
            top_k: 1,
            ..params(1.0)
        });
        assert_eq!(top_k, [0].into());
        let top_p = draws(SamplingParams {
            top_p: 0.9,
            ..params(1.0)
        });
        assert_eq!(top_p, [0, 1].into());
        let min_p = draws(SamplingParams {
            min_p: 0.5,
            ..params(1.0)
        });
        assert_eq!(min_p, [0, 1].into());
        assert!(draws(params(1.0)).len() > 2);
    }

    #[test]
    fn penalties_lower_repeated_tokens() {
        let mut sampler = Sampler::new(
            SamplingParams {
                frequency_penalty: 2.0,
                ..params(0.0)
            },
            &[],
        );
        let logits = [1.0f32, 0.0];
        assert_eq!(sampler.sample(&mut logits.clone(), |_| true), Some(0));
        sampler.accept(0);
        assert_eq!(sampler.sample(&mut logits.clone(), |_| true), Some(1));
        let mut repetition = Sampler::new(
            SamplingParams {
                repetition_penalty: 3.0,
                ..params(0.0)
            },
            &[0],
        );
        assert_eq!(repetition.sample(&mut [0.9f32, 0.5], |_| true), Some(1));
        let mut biased = Sampler::new(
            SamplingParams {
                logit_bias: vec![(1, 100.0)],
                ..params(0.0)
            },
            &[],
        );
        assert_eq!(biased.sample(&mut [5.0f32, 0.0], |_| true), Some(1));
    }

    #[test]
    fn a_veto_draws_from_the_allowed_tokens() {
        let mut sampler = Sampler::new(
            SamplingParams {
                top_k: 1,
                ..params(1.0)
            },
            &[],
        );
        // The only kept token is vetoed: the fallback still finds the allowed one.
        assert_eq!(sampler.sample(&mut [5.0f32, 1.0, 0.0], |t| t == 2), Some(2));
    }
}
