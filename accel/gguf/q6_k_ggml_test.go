package gguf_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/synth"
)

// f32Digest is the SHA-256 of v as little-endian float32 bits.
func f32Digest(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestQ6_KMatchesGGML: DequantizeQ6_K gives the bits of ggml's
// dequantize_row_q6_K (the libggml-base.a that bench/llamacpp/build.sh
// builds, llama.cpp 80fb11a, called from a small C program; llama-quantize
// linked against the same build) on 512 blocks of random
// bytes (NaN and infinite d included) and on the Q6_K bytes that
// llama.cpp's llama-quantize (Q4_K_M, no importance matrix) wrote for
// blk.2.attn_v.weight of synth's tiny shape at embedding 256,
// feed-forward 512, three layers, F32, seed 1 (testdata/
// q6k_llama_quantize.bin, 128 rows of 256). Those weights decode within
// 6-bit error of the F32 originals, and QuantizeQ6_K does at least as
// well on them.
func TestQ6_KMatchesGGML(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	rnd := make([]byte, 512*gguf.Q6_KBlockBytes)
	for i := range rnd {
		rnd[i] = byte(rng.IntN(256))
	}
	out := make([]float32, 512*gguf.Q6_KBlockSize)
	if err := gguf.DequantizeQ6_K(out, rnd); err != nil {
		t.Fatal(err)
	}
	if d := f32Digest(out); d != "fa4141c2a255a5c10065481afd7ea4eb07994380f9349802be8f44494d118daf" {
		t.Errorf("random blocks: dequantized digest %s, ggml's fa4141c2…", d)
	}

	q, err := os.ReadFile("testdata/q6k_llama_quantize.bin")
	if err != nil {
		t.Fatal(err)
	}
	if d := fmt.Sprintf("%x", sha256.Sum256(q)); d != "6539fbf6073a3898ebbc52d93fed338820721c3f05aecf0271892dd66ac934c9" {
		t.Fatalf("testdata digest %s", d)
	}
	w := make([]float32, 128*256)
	if err := gguf.DequantizeQ6_K(w, q); err != nil {
		t.Fatal(err)
	}
	if d := f32Digest(w); d != "0dabe0039b15fe97a9089c98778a8974b61a653437719545060f6a54a1e9cb8e" {
		t.Errorf("llama-quantize's bytes: dequantized digest %s, ggml's 0dabe003…", d)
	}

	s, err := synth.LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	s.Name, s.NEmbd, s.NFF, s.NLayer = "q4km", 256, 512, 3
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Shape: s, Quant: gguf.F32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.TensorData("blk.2.attn_v.weight")
	if err != nil || len(raw) != 4*len(w) {
		t.Fatalf("original: %d bytes, %v", len(raw), err)
	}
	orig := make([]float32, len(w))
	for i := range orig {
		orig[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	ours := make([]byte, len(q))
	if err := gguf.QuantizeQ6_K(ours, orig); err != nil {
		t.Fatal(err)
	}
	back := make([]float32, len(w))
	if err := gguf.DequantizeQ6_K(back, ours); err != nil {
		t.Fatal(err)
	}
	relRMS := func(v []float32) float64 {
		var se, ss float64
		for i, x := range orig {
			se += float64(x-v[i]) * float64(x-v[i])
			ss += float64(x) * float64(x)
		}
		return math.Sqrt(se / ss)
	}
	ggml, own := relRMS(w), relRMS(back)
	t.Logf("relative RMS error: llama-quantize %.5f, QuantizeQ6_K %.5f", ggml, own)
	if ggml > 0.02 || own > ggml {
		t.Errorf("relative RMS error: llama-quantize %.5f, QuantizeQ6_K %.5f", ggml, own)
	}
}
