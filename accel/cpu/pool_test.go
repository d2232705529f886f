package cpu

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
	"github.com/outpost-iot/outpost/accel/llama"
)

// TestPoolCoversRanges: every job's parts tile [0, n) exactly once, for
// sizes below, at and above the thread count, across many consecutive
// jobs (the spinning path) and after the workers have parked.
func TestPoolCoversRanges(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 5} {
		p := pool{threads: threads}
		hits := make([]atomic.Int32, 300)
		check := func(n, grain int) {
			t.Helper()
			var bad atomic.Int32 // a worker index out of range, or a chunk not starting at a multiple of grain
			p.run(n, grain, func(w, lo, hi int) {
				if w < 0 || w >= threads || lo%grain != 0 || hi <= lo {
					bad.Store(1)
				}
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := range n {
				if h := hits[i].Swap(0); h != 1 {
					t.Fatalf("threads %d n %d grain %d: item %d done %d times", threads, n, grain, i, h)
				}
			}
			if bad.Load() != 0 {
				t.Fatalf("threads %d n %d grain %d: a chunk with a worker out of range or not at a multiple of grain", threads, n, grain)
			}
		}
		for i := range 500 {
			check(1+i%300, 1+i%17)
		}
		time.Sleep(2 * spinFor) // let the workers park
		check(300, 1)
		check(299, 16)
		p.close()
		p.close()     // idempotent
		check(123, 1) // starts new workers
		p.close()
	}
}

// TestForwardAllocatesNothing: a decode step of one and of nine
// sequences (a group of eight and one left) of the Q8_0 (rows of 128,
// and of 256: int8 Q8_0 dots), F32, Q4_K and Q4_K_M test models with the
// fast kernels and two threads allocates nothing once the runner's
// buffers have grown.
func TestForwardAllocatesNothing(t *testing.T) {
	q4k, err := llama.Load(testmodel.Q4K(t, gguf.Q4_K))
	if err != nil {
		t.Fatal(err)
	}
	q4km, err := llama.Load(testmodel.Q4KM(t)) // with Q6_K matrices
	if err != nil {
		t.Fatal(err)
	}
	q8, err := llama.Load(testmodel.Q4K(t, gguf.Q8_0)) // rows of 256: int8 Q8_0 dots
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*llama.Model{tinyModel(t, gguf.Q8_0), tinyModel(t, gguf.F32), q4k, q4km, q8} {
		for _, nseq := range []int{1, 9} { // one token; eight and one
			r, err := New(m, Config{NumBlocks: 2 * nseq, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			batch := make([]Seq, nseq)
			for i := range batch {
				batch[i] = Seq{Blocks: []int{2 * i, 2*i + 1}, Tokens: []int32{1, 2, 3}, Logits: true}
			}
			r.Forward(batch)
			pos := 3
			for i := range batch {
				batch[i].Tokens = []int32{4}
			}
			allocs := testing.AllocsPerRun(10, func() {
				for i := range batch {
					batch[i].Pos = pos
				}
				pos++
				r.Forward(batch)
			})
			r.Close()
			if allocs != 0 {
				t.Fatalf("%v, %d sequences: %v allocations per decode step", m.Layers[0].Q.Type, nseq, allocs)
			}
		}
	}
}

// spawnRun is how the runner split work before the pool: a goroutine per
// part per job and a WaitGroup.
func spawnRun(threads, n, grain int, fn func(worker, lo, hi int)) {
	w := min(threads, max(1, n/max(1, grain)))
	if w <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, i*n/w, (i+1)*n/w)
		}()
	}
	wg.Wait()
}

// BenchmarkParallelJob: the cost of splitting a nearly empty job (320
// additions) over two threads, by the pool and by a goroutine per part:
// mostly the cost of the split itself.
func BenchmarkParallelJob(b *testing.B) {
	var sink [2]float64
	fn := func(w, lo, hi int) {
		s := 0.0
		for i := lo * 5; i < hi*5; i++ {
			s += float64(i)
		}
		sink[w] += s
	}
	b.Run("pool", func(b *testing.B) {
		p := pool{threads: 2}
		defer p.close()
		for b.Loop() {
			p.run(64, 16, fn)
		}
	})
	b.Run("spawn", func(b *testing.B) {
		for b.Loop() {
			spawnRun(2, 64, 16, fn)
		}
	})
}
