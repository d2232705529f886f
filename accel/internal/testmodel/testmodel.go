// Package testmodel synthesizes the small models that accel's tests run.
package testmodel

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/synth"
)

var (
	mu    sync.Mutex
	files = map[string][]byte{}
)

// Tiny returns the synth "tiny" shape with weights of type q (seed 1),
// decoded from memory. The bytes are made once per process.
func Tiny(t testing.TB, q gguf.Type) *gguf.File {
	t.Helper()
	return build(t, q, synth.Pure, func(*synth.Shape) {})
}

// Micro returns the "tiny" shape made about four times cheaper to run
// (embedding 64, feed-forward 96; same vocabulary, heads, layers and
// context), for tests that run many tokens under the race detector.
func Micro(t testing.TB) *gguf.File {
	t.Helper()
	return build(t, gguf.Q8_0, synth.Pure, func(s *synth.Shape) {
		s.Name, s.NEmbd, s.NFF = "micro", 64, 96
	})
}

// Q4K returns the "tiny" shape widened to embedding 256 (feed-forward
// 352, the same vocabulary, heads, layers and context) with quant q, for
// Q4_K tests: with gguf.Q4_K every matrix is Q4_K except ffn_down, whose
// 352-long rows are not a multiple of 256 and so are Q8_0 (synth's
// fallback), so one model runs both kernels. With F32 it is the same
// weights unquantized, for comparison.
func Q4K(t testing.TB, q gguf.Type) *gguf.File {
	t.Helper()
	return build(t, q, synth.Pure, func(s *synth.Shape) {
		s.Name, s.NEmbd = "q4k", 256
	})
}

// Q4KM returns the "tiny" shape widened to embedding 256 and
// feed-forward 512, with three layers, in synth's Q4_K_M mix:
// output.weight and layer 2's attn_v and ffn_down are Q6_K, the other
// matrices Q4_K, so one model runs both k-quant kernels.
func Q4KM(t testing.TB) *gguf.File {
	t.Helper()
	return build(t, gguf.Q4_K, synth.MixQ4_K_M, func(s *synth.Shape) {
		s.Name, s.NEmbd, s.NFF, s.NLayer = "q4km", 256, 512, 3
	})
}

func build(t testing.TB, q gguf.Type, mix synth.Mix, edit func(*synth.Shape)) *gguf.File {
	t.Helper()
	shape, err := synth.LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	edit(&shape)
	key := fmt.Sprintf("%s/%v/%d", shape.Name, q, mix)
	mu.Lock()
	b, ok := files[key]
	if !ok {
		var buf bytes.Buffer
		if err := synth.Write(&buf, synth.Options{Shape: shape, Quant: q, Mix: mix, Seed: 1}); err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		b = buf.Bytes()
		files[key] = b
	}
	mu.Unlock()
	f, err := gguf.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
