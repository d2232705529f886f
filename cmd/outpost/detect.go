package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/outpost-iot/outpost/accel/detect"
)

// runDetect prints what the inference engine would see on this machine:
// CPU and SIMD features, memory, GPUs, and the plan for running a model.
// It never fails because something could not be seen; it says so instead.
func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("detect", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	r := detect.Detect(ctx, detect.Options{})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.Format(stdout)
}
