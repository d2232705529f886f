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
	files = map[gguf.Type][]byte{}
)

// Tiny returns the synth "tiny" shape with weights of type q (seed 1),
// decoded from memory. The bytes are made once per process.
func Tiny(t testing.TB, q gguf.Type) *gguf.File {
	t.Helper()
	mu.Lock()
	b, ok := files[q]
	if !ok {
		shape, err := synth.LookupShape("tiny")
		if err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := synth.Write(&buf, synth.Options{Shape: shape, Quant: q, Seed: 1}); err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		b = buf.Bytes()
		files[q] = b
	}
	mu.Unlock()
	f, err := gguf.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
