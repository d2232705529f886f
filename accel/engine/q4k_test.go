package engine

import (
	"context"
	"testing"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/cpu"
	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
)

// TestQ4KGreedyMatchesReference serves the Q4_K test model (Q4_K
// matrices, Q8_0 ffn_down) with the fastest kernels this CPU runs on
// float32 activations (Best's int8 Q4_K activations move near-ties of a
// random-weight model) and checks that greedy completions, one at a time
// and all at once, are the text accel/llama generates; with Best, that
// they are the same one at a time and all at once.
func TestQ4KGreedyMatchesReference(t *testing.T) {
	m, err := FromFile(testmodel.Q4K(t, gguf.Q4_K), "q4k")
	if err != nil {
		t.Fatal(err)
	}
	if typ := m.LM.Layers[0].Q.Type; typ != gguf.Q4_K {
		t.Fatalf("attn_q is %v, want q4_K", typ)
	}
	for _, k := range []cpu.Kernels{cpu.BestF32Act(), cpu.Best()} {
		t.Run(k.Name, func(t *testing.T) { checkQ4K(t, m, k, k.Name == cpu.BestF32Act().Name) })
	}
}

func checkQ4K(t *testing.T, m *Model, k cpu.Kernels, exact bool) {
	e, err := New(m, Config{Kernels: k})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	t.Logf("kernels %s", e.Config().Kernels.Name)
	const n = 16
	want := make([]string, 3)
	for i, p := range prompts[:3] {
		got := complete(t, e, greedyReq(p, n))
		want[i] = got.Text
		if !exact {
			continue
		}
		if want[i] = reference(t, e, p, n); got.Text != want[i] {
			t.Errorf("%q: engine %q, reference %q", p, got.Text, want[i])
		}
	}
	reqs := []accel.CompletionRequest{greedyReq(prompts[0], n), greedyReq(prompts[1], n), greedyReq(prompts[2], n)}
	for i, got := range concurrent(t, e, reqs) {
		if got != want[i] {
			t.Errorf("%q concurrently: engine %q, one at a time %q", prompts[i], got, want[i])
		}
	}
}
