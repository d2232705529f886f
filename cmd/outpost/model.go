package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/outpost-iot/outpost/accel/synth"
)

// runModel dispatches `outpost model ...`; today: synth.
func runModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "synth" {
		return usageError{errors.New("model: want 'model synth'; see 'outpost help model'")}
	}
	return runModelSynth(ctx, args[1:], stdout, stderr)
}

// runModelSynth writes a random-weight model of a named shape, with a
// printable vocabulary and a chat template, for tests and benchmarks.
func runModelSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("model", stderr)
	names := make([]string, 0, len(synth.Shapes()))
	for _, s := range synth.Shapes() {
		names = append(names, s.Name)
	}
	shapeName := fs.String("shape", "tiny", "model shape: "+strings.Join(names, ", "))
	quant := fs.String("quant", "q8_0", "weight type: f32, f16, q8_0, q4_k (Q4_K where rows are a multiple of 256, else Q8_0) or q4_k_m (q4_k with llama.cpp's Q4_K_M mix: Q6_K output and some layers' attn_v and ffn_down)")
	seed := fs.Int64("seed", 1, "random seed; the same seed writes the same bytes")
	// Accept flags before and after the output path.
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageError{errors.New("model synth: missing OUT.gguf")}
	}
	out := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("model synth: unexpected argument %q", fs.Arg(0))}
	}
	shape, err := synth.LookupShape(*shapeName)
	if err != nil {
		return usageError{err}
	}
	q, mix, err := synth.ParseQuant(*quant)
	if err != nil {
		return usageError{err}
	}
	opts := synth.Options{Shape: shape, Quant: q, Mix: mix, Seed: *seed}
	bar := newProgressBar(stderr, "writing "+out)
	size, err := synth.Size(opts)
	if err != nil {
		return usageError{err}
	}
	if err := synth.WriteFile(ctx, out, opts, bar.Update); err != nil {
		return err
	}
	bar.Done(size)
	fmt.Fprintf(stdout, "%s: %s %s model, model id %q\n", out, shape.Name, *quant, strings.TrimSuffix(filepath.Base(out), ".gguf"))
	return nil
}
