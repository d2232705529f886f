package cpu

import (
	"flag"
	"fmt"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
)

var decodeModel = flag.String("decode.model", "", "GGUF file for BenchmarkDecode (e.g. .cache/models/tinyllama-1.1b-q4_k.gguf)")

// BenchmarkDecode times whole decode steps of a model file given with
// -decode.model, for batches of 1 and 8 sequences, with benchModel's
// kernel sets: tok/s is sequences × steps / time. Each step
// decodes one token per sequence at positions 8 onward (a short prefill
// first, untimed).
//
//	go test -run '^$' -bench Decode -benchtime 16x ./accel/cpu -decode.model PATH
func BenchmarkDecode(b *testing.B) {
	m, sets := benchModel(b)
	for _, k := range sets {
		for _, nseq := range []int{1, 7, 8} {
			b.Run(fmt.Sprintf("%s/seqs%d", k.Name, nseq), func(b *testing.B) {
				const bt, maxPos = 16, 256
				r, err := New(m, Config{NumBlocks: nseq * maxPos / bt, BlockTokens: bt, Kernels: k})
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				batch := make([]Seq, nseq)
				for i := range batch {
					blocks := make([]int, maxPos/bt)
					for j := range blocks {
						blocks[j] = i*maxPos/bt + j
					}
					batch[i] = Seq{Blocks: blocks, Tokens: []int32{1, 100, 200, 300, 400, 500, 600, int32(700 + i)}, Logits: true}
				}
				r.Forward(batch)
				for i := range batch {
					batch[i].Pos, batch[i].Tokens = 8, []int32{42}
				}
				b.ResetTimer()
				for b.Loop() {
					r.Forward(batch)
					for i := range batch {
						if batch[i].Pos++; batch[i].Pos >= maxPos {
							batch[i].Pos = 8
						}
					}
				}
				b.ReportMetric(float64(b.N*nseq)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

// benchModel loads the -decode.model file (closed when b ends) and
// returns it with the kernel sets a model benchmark compares: Best, AVX2
// too where Best is AVX-512 (so that one run gives the ratio), and Best's
// primitives on float32 activations only (-f32act, where Best quantizes
// some) and on int8 ones wherever it has an int8 dot (-q8act, where Best
// does not quantize all). It skips b without a file.
func benchModel(b *testing.B) (*llama.Model, []Kernels) {
	if *decodeModel == "" {
		b.Skip("no -decode.model")
	}
	f, err := gguf.Open(*decodeModel)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	m, err := llama.Load(f)
	if err != nil {
		b.Fatal(err)
	}
	sets := []Kernels{Best()}
	if arch := archSets(); len(arch) > 0 {
		for _, ops := range arch[:len(arch)-1] {
			sets = append(sets, fastKernels(ops, actDefault))
		}
		best := arch[len(arch)-1]
		if best.q8Int8 || best.q4kInt8 || best.q6kInt8 {
			sets = append(sets, fastKernels(best, actF32))
		}
		if !best.allInt8() {
			sets = append(sets, fastKernels(best, actQ8))
		}
	}
	return m, sets
}
