package agenthost

import (
	"context"
	"errors"

	"github.com/outpost-iot/outpost/accel"
)

// Inference is the inference engine as agents use it: the gateway's local
// engine (--model) or a remote OpenAI-compatible server (--inference-url),
// both of which have this method set. The types are package accel's.
type Inference interface {
	Models(ctx context.Context) ([]accel.ModelInfo, error)
	Chat(ctx context.Context, req accel.ChatRequest) (*accel.Stream, error)
	Complete(ctx context.Context, req accel.CompletionRequest) (*accel.Stream, error)
}

// ErrNoInference is returned by Context.Inference on a gateway that has no
// model and no remote inference server configured.
var ErrNoInference = errors.New("no inference engine configured (start the gateway with --model or --inference-url)")

// Inference returns the gateway's inference engine.
func (c *Context) Inference() (Inference, error) {
	if c.in.h.inference == nil {
		return nil, ErrNoInference
	}
	return c.in.h.inference, nil
}
