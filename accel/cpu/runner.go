package cpu

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"

	"github.com/outpost-iot/outpost/accel/llama"
)

// Config sizes a Runner.
type Config struct {
	// NumBlocks is the number of KV blocks in the pool (required).
	NumBlocks int
	// BlockTokens is the number of token slots per block. Default 16.
	BlockTokens int
	// Threads is the number of goroutines a step uses. Default
	// runtime.GOMAXPROCS(0).
	Threads int
	// Kernels are the operations; zero fields are filled from Best() (the
	// fastest set this CPU runs). Pass Scalar() for the reference.
	Kernels Kernels
}

// Seq is one sequence's part of a batch.
type Seq struct {
	// Blocks is the sequence's block table; it must cover positions
	// 0..Pos+len(Tokens)-1.
	Blocks []int
	// Pos is the position of Tokens[0]; positions before it must already
	// hold keys and values in the pool.
	Pos int
	// Tokens are the new tokens (at least one).
	Tokens []int32
	// Logits asks for the logits after the last token.
	Logits bool
}

// Runner computes batched forward passes over a paged KV pool.
type Runner struct {
	m     *llama.Model
	cfg   Config
	k     Kernels
	freqs []float64
	abort atomic.Bool
	// K and V are per layer pools of NumBlocks*BlockTokens*NEmbdKV values.
	K, V [][]float32

	pool pool
	// the current matmul and attention jobs, read by matMulPart and
	// attentionPart (method values made once, so a job allocates nothing)
	mmOut            []float32
	mmW              llama.Tensor
	mmN              int
	attnK, attnV     []float32
	attnBatch        []Seq
	mmPart, attnPart func(worker, lo, hi int)
	attnArgs         []AttnArgs // per worker (a local would escape)
	out              [][]float32

	// scratch, grown to the largest batch seen
	x, xb, xb2, q, kx, vx, hb, hb2 []float32
	in                             MatMulInput
	att                            [][]float32 // per thread
	logits                         []float32
	pos                            []int
	tokSeq                         []int
}

// New returns a runner for m with a zeroed KV pool.
func New(m *llama.Model, cfg Config) (*Runner, error) {
	if cfg.NumBlocks <= 0 {
		return nil, fmt.Errorf("cpu: NumBlocks %d must be positive", cfg.NumBlocks)
	}
	if cfg.BlockTokens == 0 {
		cfg.BlockTokens = 16
	}
	if cfg.BlockTokens < 0 {
		return nil, fmt.Errorf("cpu: BlockTokens %d must be positive", cfg.BlockTokens)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.GOMAXPROCS(0)
	}
	def := Best()
	k := cfg.Kernels
	if k.Name == "" {
		k.Name = "custom"
		if k.MatMul == nil && k.RMSNorm == nil && k.RoPE == nil && k.SwiGLU == nil && k.Attention == nil {
			k.Name = def.Name
		}
	}
	if (k.MatMul == nil) != (k.Prepare == nil) {
		return nil, fmt.Errorf("cpu: kernels %q: MatMul and Prepare must be set together", k.Name)
	}
	if k.MatMul == nil {
		k.MatMul, k.Prepare = def.MatMul, def.Prepare
	}
	if k.RMSNorm == nil {
		k.RMSNorm = def.RMSNorm
	}
	if k.RoPE == nil {
		k.RoPE = def.RoPE
	}
	if k.SwiGLU == nil {
		k.SwiGLU = def.SwiGLU
	}
	if k.Attention == nil {
		k.Attention = def.Attention
	}
	c := m.Config
	r := &Runner{m: m, cfg: cfg, k: k, K: make([][]float32, c.NLayer), V: make([][]float32, c.NLayer)}
	r.pool.threads = cfg.Threads
	r.mmPart, r.attnPart = r.matMulPart, r.attentionPart
	n := cfg.NumBlocks * cfg.BlockTokens * c.NEmbdKV()
	for i := range r.K {
		r.K[i] = make([]float32, n)
		r.V[i] = make([]float32, n)
	}
	r.freqs = make([]float64, c.HeadDim/2)
	for i := range r.freqs {
		r.freqs[i] = math.Pow(float64(c.RopeTheta), -float64(2*i)/float64(c.HeadDim))
	}
	return r, nil
}

// Kernels returns the operations in use, zero fields filled in.
func (r *Runner) Kernels() Kernels { return r.k }

// Model returns the model the runner computes.
func (r *Runner) Model() *llama.Model { return r.m }

// NumBlocks returns the pool size in blocks.
func (r *Runner) NumBlocks() int { return r.cfg.NumBlocks }

// BlockTokens returns the number of token slots per block.
func (r *Runner) BlockTokens() int { return r.cfg.BlockTokens }

// KVBytes returns the memory the pool holds.
func (r *Runner) KVBytes() int64 {
	return int64(len(r.K)) * 2 * int64(len(r.K[0])) * 4
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// parallel runs fn over [0, n) split into at most Threads contiguous
// ranges of at least grain items, on the runner's workers.
func (r *Runner) parallel(n, grain int, fn func(worker, lo, hi int)) {
	r.pool.run(n, grain, fn)
}

// Close stops the runner's worker goroutines (started by the first
// Forward that splits work) and waits for them. It is idempotent; a later
// Forward starts them again.
func (r *Runner) Close() { r.pool.close() }

// matMul computes out = w · x for n rows of x, rows split across threads.
func (r *Runner) matMul(out []float32, w llama.Tensor, x []float32, n int) {
	checkMatMul(out, w, x, n)
	r.in.X = x[:n*w.Cols]
	r.k.Prepare(&r.in, w, n)
	r.mmOut, r.mmW, r.mmN = out, w, n
	r.parallel(w.Rows, 16, r.mmPart)
}

func (r *Runner) matMulPart(_, lo, hi int) {
	r.k.MatMul(r.mmOut, r.mmW, &r.in, r.mmN, lo, hi)
}

// attentionPart computes the attention of tokens [lo, hi) of the batch
// over the current layer's pools.
func (r *Runner) attentionPart(w, lo, hi int) {
	c := r.m.Config
	E := c.NEmbd
	a := &r.attnArgs[w]
	*a = AttnArgs{K: r.attnK, V: r.attnV, BlockTokens: r.cfg.BlockTokens, NHead: c.NHead, NHeadKV: c.NHeadKV, HeadDim: c.HeadDim, Scratch: r.att[w]}
	for t := lo; t < hi; t++ {
		a.Q = r.q[t*E : (t+1)*E]
		a.Out = r.xb2[t*E : (t+1)*E]
		a.Blocks = r.attnBatch[r.tokSeq[t]].Blocks
		a.N = r.pos[t] + 1
		r.k.Attention(a)
	}
}

// Abort makes the running Forward, and every later one, stop at the next
// layer and return nil. It is the one method safe to call from another
// goroutine: an engine that is closing uses it so that a long prefill does
// not hold up shutdown.
func (r *Runner) Abort() { r.abort.Store(true) }

// Forward runs one step for the batch and returns, per sequence, its logits
// (VocabSize values) when it asked for them, else nil. The returned slice
// and the logits are owned by the Runner and overwritten by the next
// Forward. A step allocates nothing once its buffers have grown to the
// batch. It returns nil after
// Abort (the pool's contents are then undefined). It panics on a batch that
// does not fit the pool or the model (the engine checks first).
func (r *Runner) Forward(batch []Seq) [][]float32 {
	c := r.m.Config
	bt := r.cfg.BlockTokens
	kvDim := c.NEmbdKV()
	T := 0
	nLogits := 0
	for i, s := range batch {
		if len(s.Tokens) == 0 {
			panic(fmt.Sprintf("cpu: batch entry %d has no tokens", i))
		}
		if end := s.Pos + len(s.Tokens); s.Pos < 0 || end > len(s.Blocks)*bt {
			panic(fmt.Sprintf("cpu: batch entry %d: positions [%d, %d) outside its %d blocks", i, s.Pos, end, len(s.Blocks)))
		}
		for _, b := range s.Blocks {
			if b < 0 || b >= r.cfg.NumBlocks {
				panic(fmt.Sprintf("cpu: batch entry %d: block %d outside the pool", i, b))
			}
		}
		T += len(s.Tokens)
		if s.Logits {
			nLogits++
		}
	}
	E, F := c.NEmbd, c.NFF
	r.x = grow(r.x, T*E)
	r.xb = grow(r.xb, T*E)
	r.xb2 = grow(r.xb2, T*E)
	r.q = grow(r.q, T*E)
	r.kx = grow(r.kx, T*kvDim)
	r.vx = grow(r.vx, T*kvDim)
	r.hb = grow(r.hb, T*F)
	r.hb2 = grow(r.hb2, T*F)
	r.pos = grow(r.pos, T)
	r.tokSeq = grow(r.tokSeq, T)
	if len(r.att) < r.cfg.Threads {
		r.att = make([][]float32, r.cfg.Threads)
		r.attnArgs = make([]AttnArgs, r.cfg.Threads)
	}
	maxN := 0
	t := 0
	for i, s := range batch {
		for j, tok := range s.Tokens {
			r.m.Embed(r.x[t*E:(t+1)*E], tok)
			r.pos[t] = s.Pos + j
			r.tokSeq[t] = i
			t++
		}
		maxN = max(maxN, s.Pos+len(s.Tokens))
	}
	for i := range r.att {
		if cap(r.att[i]) < maxN { // doubling: a decode step adds one position
			r.att[i] = make([]float32, maxN, max(maxN, 2*cap(r.att[i]), 256))
		}
		r.att[i] = r.att[i][:maxN]
	}

	for li := range r.m.Layers {
		if r.abort.Load() {
			return nil
		}
		l := &r.m.Layers[li]
		for t := 0; t < T; t++ {
			r.k.RMSNorm(r.xb[t*E:(t+1)*E], r.x[t*E:(t+1)*E], l.AttnNorm, c.RMSEps)
		}
		r.matMul(r.q, l.Q, r.xb, T)
		r.matMul(r.kx, l.K, r.xb, T)
		r.matMul(r.vx, l.V, r.xb, T)
		kp, vp := r.K[li], r.V[li]
		for t := 0; t < T; t++ {
			p := r.pos[t]
			r.k.RoPE(r.q[t*E:(t+1)*E], r.freqs, p)
			kRow := r.kx[t*kvDim : (t+1)*kvDim]
			r.k.RoPE(kRow, r.freqs, p)
			blocks := batch[r.tokSeq[t]].Blocks
			off := (blocks[p/bt]*bt + p%bt) * kvDim
			copy(kp[off:off+kvDim], kRow)
			copy(vp[off:off+kvDim], r.vx[t*kvDim:(t+1)*kvDim])
		}
		r.attnK, r.attnV, r.attnBatch = kp, vp, batch
		r.parallel(T, 1, r.attnPart)
		r.matMul(r.xb, l.O, r.xb2, T)
		for i, v := range r.xb[:T*E] {
			r.x[i] += v
		}
		for t := 0; t < T; t++ {
			r.k.RMSNorm(r.xb[t*E:(t+1)*E], r.x[t*E:(t+1)*E], l.FFNNorm, c.RMSEps)
		}
		r.matMul(r.hb, l.Gate, r.xb, T)
		r.matMul(r.hb2, l.Up, r.xb, T)
		for t := 0; t < T; t++ {
			r.k.SwiGLU(r.hb[t*F:(t+1)*F], r.hb2[t*F:(t+1)*F])
		}
		r.matMul(r.xb, l.Down, r.hb, T)
		for i, v := range r.xb[:T*E] {
			r.x[i] += v
		}
	}

	r.attnBatch = nil

	// Output norm and projection for the last token of each sequence that
	// wants logits, gathered into consecutive rows of xb.
	out := grow(r.out, len(batch))
	if out == nil {
		out = [][]float32{} // nil means aborted
	}
	r.out = out
	clear(out)
	if nLogits == 0 {
		return out
	}
	t, g := 0, 0
	for _, s := range batch {
		t += len(s.Tokens)
		if s.Logits {
			last := t - 1
			r.k.RMSNorm(r.xb[g*E:(g+1)*E], r.x[last*E:(last+1)*E], r.m.OutputNorm, c.RMSEps)
			g++
		}
	}
	V := c.VocabSize
	r.logits = grow(r.logits, nLogits*V)
	r.matMul(r.logits, r.m.Output, r.xb, nLogits)
	g = 0
	for i, s := range batch {
		if s.Logits {
			out[i] = r.logits[g*V : (g+1)*V]
			g++
		}
	}
	return out
}
