package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/outpost-iot/outpost/accel/detect"
	"github.com/outpost-iot/outpost/accel/engine"
	"github.com/outpost-iot/outpost/accel/openai"
	"github.com/outpost-iot/outpost/accel/remote"
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/broker"
)

// inference is the gateway's inference backend, local (--model) or remote
// (--inference-url), and the OpenAI-compatible API over it. Without either
// it is empty: /v1 keeps answering 501.
type inference struct {
	backend agenthost.Inference // what agents call; nil without an engine
	handler http.Handler
	close   func(context.Context) error
	log     *slog.Logger
}

// openInference loads the model (with a progress bar on a terminal) and
// starts the engine, or connects the remote backend, as cfg says.
func openInference(ctx context.Context, cfg Config, log *slog.Logger) (*inference, error) {
	switch {
	case cfg.Model != "":
		return openLocal(ctx, cfg.Model, log)
	case cfg.InferenceURL != "":
		return openRemote(cfg, log)
	}
	return &inference{}, nil
}

func openLocal(ctx context.Context, path string, log *slog.Logger) (*inference, error) {
	start := time.Now()
	bar := newProgressBar(os.Stderr, "loading "+path)
	m, err := engine.Load(ctx, path, bar.Update)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if bar.tty {
		bar.Done(m.File.Size)
	}
	e, err := engine.New(m, engineConfig(ctx, m, log))
	if err == nil {
		err = e.Start(ctx)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("model: %w", err)
	}
	c := e.Config()
	log.Info("model loaded", "model", m.ID, "path", path, "bytes", m.File.Size, "layers", m.LM.NLayer,
		"context", c.ContextLength, "kv_blocks", c.KVBlocks, "max_seqs", c.MaxSeqs, "threads", c.Threads, "kernels", c.Kernels.Name, "chat_template", m.Family.String(),
		"elapsed", time.Since(start).Round(time.Millisecond))
	return &inference{
		log:     log,
		backend: e,
		handler: openai.NewHandler(e, log),
		close: func(ctx context.Context) error {
			if err := e.Close(ctx); err != nil {
				// A forward pass is still running (a long prefill on a
				// slow CPU): keep the weights mapped; the process exits.
				return err
			}
			return m.Close()
		},
	}, nil
}

// engineConfig sizes the engine from the hardware plan (accel/detect):
// its threads, and a KV pool no larger than the memory the plan leaves
// for it. A GPU is only noted: the engine runs on the CPU.
func engineConfig(ctx context.Context, m *engine.Model, log *slog.Logger) engine.Config {
	r := detect.Detect(ctx, detect.Options{})
	plan := detect.PlanFor(r, detect.ModelShape{
		WeightBytes: uint64(m.File.Size), Layers: m.LM.NLayer, KVHeads: m.LM.NHeadKV, HeadDim: m.LM.HeadDim,
		ContextLength: m.LM.ContextLength, KVBytesPerElement: 4,
	})
	for _, n := range slices.Concat(plan.Notes, plan.Problems) {
		log.Info("inference plan", "note", n)
	}
	cfg := engine.Config{Threads: plan.Threads}
	if plan.KVCacheBytes > 0 {
		cfg.KVMemory = int64(min(plan.KVCacheBytes, 256<<20))
	}
	return cfg
}

func openRemote(cfg Config, log *slog.Logger) (*inference, error) {
	rc := remote.Config{BaseURL: cfg.InferenceURL}
	if cfg.InferenceAPIKeyFile != "" {
		b, err := os.ReadFile(cfg.InferenceAPIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("inference_api_key_file: %w", err)
		}
		rc.APIKey = strings.TrimSpace(string(b))
	}
	c, err := remote.New(rc)
	if err != nil {
		return nil, err
	}
	log.Info("remote inference backend", "url", cfg.InferenceURL)
	return &inference{backend: c, handler: openai.NewHandler(c, log)}, nil
}

// mount serves the API under /v1/ on the gateway's HTTP port, behind its
// authentication. It must run before the broker starts.
func (i *inference) mount(b *broker.Server) {
	if i.handler != nil {
		b.Handle("/v1/", i.handler)
	}
}

// Close stops the engine and unmaps the model.
func (i *inference) Close() {
	if i.close == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := i.close(ctx); err != nil {
		i.log.Warn("inference engine did not stop in time", "error", err)
	}
}

// Both backends are what agents call (agenthost.Inference).
var (
	_ agenthost.Inference = (*engine.Engine)(nil)
	_ agenthost.Inference = (*remote.Client)(nil)
)
