package cpu

import "testing"

// BenchmarkPrefill times one prompt chunk of 128 tokens through Forward,
// from position 0 with the logits of its last token, for the model file
// given with -decode.model, with benchModel's kernel sets: tok/s is
// 128 × chunks / time. Every chunk overwrites the same KV slots, so the
// attention cost is that of a first chunk.
//
//	go test -run '^$' -bench Prefill -benchtime 4x ./accel/cpu -decode.model PATH
func BenchmarkPrefill(b *testing.B) {
	m, sets := benchModel(b)
	const chunk, bt = 128, 16
	tokens := make([]int32, chunk)
	for i := range tokens {
		tokens[i] = int32(1 + 37*i%1000) // any ids the vocabulary has
	}
	blocks := make([]int, chunk/bt)
	for i := range blocks {
		blocks[i] = i
	}
	for _, k := range sets {
		b.Run(k.Name, func(b *testing.B) {
			r, err := New(m, Config{NumBlocks: len(blocks), BlockTokens: bt, Kernels: k})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			batch := []Seq{{Blocks: blocks, Tokens: tokens, Logits: true}}
			r.Forward(batch) // grows the buffers outside the timing
			for b.Loop() {
				r.Forward(batch)
			}
			b.ReportMetric(float64(b.N*chunk)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
