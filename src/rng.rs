//! The portable counter-based PRNG (SplitMix64) of models.json.
