// Package sample implements token sampling for the inference engine: greedy
// decoding, temperature, top-k, top-p (nucleus), min-p, repetition penalty,
// seeded deterministic draws, stop strings and a max-token limit.
//
// The per-step pipeline follows llama.cpp's default sampler chain:
//
//	repetition penalty -> (greedy if temperature == 0) ->
//	top-k -> top-p -> min-p -> temperature -> softmax -> draw
//
// top-p and min-p are evaluated on the temperature-1 distribution (as in
// llama.cpp, where temperature is applied after the truncation samplers).
//
// A [Sampler] reuses its buffers, so [Sampler.Sample] does not allocate after
// the first call, and its draws come from a math/rand/v2 PCG generator seeded
// from [Params.Seed], so a given seed always yields the same token sequence
// for the same logits and history.
//
// Stop strings over streamed text are handled by [StopMatcher].
package sample

import (
	"errors"
	"fmt"
	"math"
)

// Params configures a [Sampler]. The zero value is not valid (TopP and
// RepeatPenalty must be positive); start from [DefaultParams] and override.
type Params struct {
	// Temperature scales logits before the final softmax. 0 selects greedy
	// decoding (argmax, lowest token id on ties). Must be >= 0. llama.cpp's
	// default is 0.8, OpenAI's is 1.
	Temperature float32
	// TopK keeps only the K most likely tokens. 0 disables it. Must be >= 0.
	// llama.cpp default: 40.
	TopK int
	// TopP (nucleus) keeps the smallest set of most likely tokens whose
	// cumulative probability is >= TopP (always at least one). 1 disables it.
	// Must satisfy 0 < TopP <= 1. llama.cpp default 0.95, OpenAI default 1.
	TopP float32
	// MinP drops tokens whose probability is below MinP times the probability
	// of the most likely token. 0 disables it. Must satisfy 0 <= MinP < 1.
	// llama.cpp default: 0.05.
	MinP float32
	// RepeatPenalty penalises tokens that occur in the last RepeatLastN
	// tokens of the history: positive logits are divided by it and negative
	// logits multiplied by it (llama.cpp's rule), once per distinct token.
	// 1 disables it. Must be > 0. llama.cpp default: 1 (off).
	RepeatPenalty float32
	// RepeatLastN is how many trailing history tokens the repetition penalty
	// considers: 0 disables the penalty, -1 means the whole history.
	// llama.cpp default: 64.
	RepeatLastN int
	// Seed seeds the PCG generator used for draws.
	Seed uint64
	// Stop lists strings that end generation; the stop string itself is not
	// emitted. See [StopMatcher]. Entries must be non-empty.
	Stop []string
	// MaxTokens bounds the number of generated tokens; 0 means no limit.
	// Must be >= 0.
	MaxTokens int
}

// DefaultParams returns llama.cpp's default sampling settings: temperature
// 0.8, top-k 40, top-p 0.95, min-p 0.05, repetition penalty 1 (off) over the
// last 64 tokens, seed 0, no stop strings and no token limit.
func DefaultParams() Params {
	return Params{
		Temperature:   0.8,
		TopK:          40,
		TopP:          0.95,
		MinP:          0.05,
		RepeatPenalty: 1,
		RepeatLastN:   64,
	}
}

// GreedyParams returns parameters for deterministic greedy decoding
// (temperature 0, every other sampler off).
func GreedyParams() Params {
	return Params{TopP: 1, RepeatPenalty: 1, RepeatLastN: 64}
}

func finite(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// Validate checks every field's range and returns an error naming each
// offending field (joined with errors.Join), or nil.
func (p Params) Validate() error {
	var errs []error
	if !finite(p.Temperature) || p.Temperature < 0 {
		errs = append(errs, fmt.Errorf("sample: temperature must be a finite value >= 0, got %v", p.Temperature))
	}
	if p.TopK < 0 {
		errs = append(errs, fmt.Errorf("sample: top_k must be >= 0, got %d", p.TopK))
	}
	if !finite(p.TopP) || p.TopP <= 0 || p.TopP > 1 {
		errs = append(errs, fmt.Errorf("sample: top_p must be in (0, 1], got %v", p.TopP))
	}
	if !finite(p.MinP) || p.MinP < 0 || p.MinP >= 1 {
		errs = append(errs, fmt.Errorf("sample: min_p must be in [0, 1), got %v", p.MinP))
	}
	if !finite(p.RepeatPenalty) || p.RepeatPenalty <= 0 {
		errs = append(errs, fmt.Errorf("sample: repeat_penalty must be a finite value > 0, got %v", p.RepeatPenalty))
	}
	if p.RepeatLastN < -1 {
		errs = append(errs, fmt.Errorf("sample: repeat_last_n must be >= -1, got %d", p.RepeatLastN))
	}
	if p.MaxTokens < 0 {
		errs = append(errs, fmt.Errorf("sample: max_tokens must be >= 0, got %d", p.MaxTokens))
	}
	for i, s := range p.Stop {
		if s == "" {
			errs = append(errs, fmt.Errorf("sample: stop[%d] must be non-empty", i))
		}
	}
	return errors.Join(errs...)
}

// Exhausted reports whether generated tokens reach the MaxTokens limit
// (always false when MaxTokens is 0).
func (p Params) Exhausted(generated int) bool {
	return p.MaxTokens > 0 && generated >= p.MaxTokens
}
