// Package testmodel synthesizes the small models that accel's tests run.
package testmodel

import (
	"bytes"
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
	return build(t, q, func(*synth.Shape) {})
}

// Micro returns the "tiny" shape made about four times cheaper to run
// (embedding 64, feed-forward 96; same vocabulary, heads, layers and
// context), for tests that run many tokens under the race detector.
func Micro(t testing.TB) *gguf.File {
	t.Helper()
	return build(t, gguf.Q8_0, func(s *synth.Shape) {
		s.Name, s.NEmbd, s.NFF = "micro", 64, 96
	})
}

func build(t testing.TB, q gguf.Type, edit func(*synth.Shape)) *gguf.File {
	t.Helper()
	shape, err := synth.LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	edit(&shape)
	key := shape.Name + "/" + q.String()
	mu.Lock()
	b, ok := files[key]
	if !ok {
		var buf bytes.Buffer
		if err := synth.Write(&buf, synth.Options{Shape: shape, Quant: q, Seed: 1}); err != nil {
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
