package llama

import (
	"errors"
	"fmt"
	"math"

	"github.com/outpost-iot/outpost/accel/gguf"
)

// Config holds a model's hyperparameters.
type Config struct {
	// Arch is general.architecture, the metadata key prefix; only "llama"
	// (also the default when the key is absent) is accepted.
	Arch string
	// VocabSize is the number of tokens (token_embd.weight dims[1]).
	VocabSize int
	// NEmbd is the embedding width; NFF the feed-forward width.
	NEmbd, NFF int
	// NLayer is the number of blocks.
	NLayer int
	// NHead and NHeadKV are the query and key/value head counts.
	NHead, NHeadKV int
	// HeadDim is NEmbd / NHead.
	HeadDim int
	// ContextLength is the trained context length (0 if absent).
	ContextLength int
	// RopeTheta is rope.freq_base (default 10000).
	RopeTheta float32
	// RMSEps is attention.layer_norm_rms_epsilon (default 1e-5).
	RMSEps float32
}

// NEmbdKV returns the width of the key and value projections.
func (c Config) NEmbdKV() int { return c.HeadDim * c.NHeadKV }

// Layer holds one block's weights.
type Layer struct {
	// AttnNorm and FFNNorm are the RMSNorm weights (NEmbd values, copied
	// to float32).
	AttnNorm, FFNNorm []float32
	// Q, K, V and O are the attention projections: Q and O are NEmbd×NEmbd,
	// K and V have NEmbdKV rows of NEmbd values.
	Q, K, V, O Tensor
	// Gate and Up have NFF rows of NEmbd values; Down has NEmbd rows of NFF.
	Gate, Up, Down Tensor
}

// Model is a loaded model: its Config and weight views into the GGUF file.
type Model struct {
	Config
	// TokenEmbd is token_embd.weight: VocabSize rows of NEmbd values.
	TokenEmbd Tensor
	// OutputNorm is output_norm.weight, copied to float32.
	OutputNorm []float32
	// Output is output.weight, or token_embd.weight when tied.
	Output Tensor
	Layers []Layer
}

// Load reads the hyperparameters and weights of a Llama-family model from f.
// Weights stay views into f's data, which must outlive the Model. Errors name
// the offending key or tensor.
func Load(f *gguf.File) (*Model, error) {
	md := &f.Metadata
	arch := "llama"
	if s, err := md.String("general.architecture"); err == nil {
		arch = s
	} else if !errors.Is(err, gguf.ErrNoKey) {
		return nil, fmt.Errorf("llama: %w", err)
	}
	if arch != "llama" {
		// Other architectures differ (QKV biases, NeoX RoPE, …) and would
		// load here but compute the wrong thing.
		return nil, fmt.Errorf("llama: general.architecture %q is not supported (only \"llama\")", arch)
	}
	c := Config{Arch: arch}
	geti := func(key string, def int, required bool) (int, error) {
		v, err := md.Uint(arch + "." + key)
		if errors.Is(err, gguf.ErrNoKey) && !required {
			return def, nil
		}
		if err != nil {
			return 0, fmt.Errorf("llama: %s.%s: %w", arch, key, err)
		}
		if v > 1<<30 {
			return 0, fmt.Errorf("llama: %s.%s = %d is too large", arch, key, v)
		}
		return int(v), nil
	}
	getf := func(key string, def float32) (float32, error) {
		v, err := md.Float(arch + "." + key)
		if errors.Is(err, gguf.ErrNoKey) {
			return def, nil
		}
		if err != nil {
			return 0, fmt.Errorf("llama: %s.%s: %w", arch, key, err)
		}
		return float32(v), nil
	}
	var err error
	if c.NEmbd, err = geti("embedding_length", 0, true); err != nil {
		return nil, err
	}
	if c.NLayer, err = geti("block_count", 0, true); err != nil {
		return nil, err
	}
	if c.NFF, err = geti("feed_forward_length", 0, true); err != nil {
		return nil, err
	}
	if c.NHead, err = geti("attention.head_count", 0, true); err != nil {
		return nil, err
	}
	if c.NHeadKV, err = geti("attention.head_count_kv", c.NHead, false); err != nil {
		return nil, err
	}
	if c.ContextLength, err = geti("context_length", 0, false); err != nil {
		return nil, err
	}
	if c.RopeTheta, err = getf("rope.freq_base", 10000); err != nil {
		return nil, err
	}
	if c.RMSEps, err = getf("attention.layer_norm_rms_epsilon", 1e-5); err != nil {
		return nil, err
	}
	switch {
	case c.NEmbd <= 0 || c.NFF <= 0 || c.NLayer <= 0 || c.NHead <= 0 || c.NHeadKV <= 0:
		return nil, fmt.Errorf("llama: embedding_length %d, feed_forward_length %d, block_count %d, head_count %d, head_count_kv %d must be positive",
			c.NEmbd, c.NFF, c.NLayer, c.NHead, c.NHeadKV)
	case c.NEmbd%c.NHead != 0:
		return nil, fmt.Errorf("llama: embedding_length %d is not a multiple of head_count %d", c.NEmbd, c.NHead)
	case c.NHead%c.NHeadKV != 0:
		return nil, fmt.Errorf("llama: head_count %d is not a multiple of head_count_kv %d", c.NHead, c.NHeadKV)
	case (c.NEmbd/c.NHead)%2 != 0:
		return nil, fmt.Errorf("llama: head dimension %d is odd", c.NEmbd/c.NHead)
	case !(c.RopeTheta > 0) || math.IsInf(float64(c.RopeTheta), 0):
		return nil, fmt.Errorf("llama: rope.freq_base %v must be positive", c.RopeTheta)
	case !(c.RMSEps >= 0) || math.IsInf(float64(c.RMSEps), 0):
		return nil, fmt.Errorf("llama: layer_norm_rms_epsilon %v must be finite and non-negative", c.RMSEps)
	}
	c.HeadDim = c.NEmbd / c.NHead

	m := &Model{}
	// token_embd.weight gives the vocabulary size.
	ti, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, errors.New("llama: tensor token_embd.weight is missing")
	}
	if len(ti.Dims) != 2 || ti.Dims[0] != uint64(c.NEmbd) || ti.Dims[1] == 0 || ti.Dims[1] > 1<<30 {
		return nil, fmt.Errorf("llama: tensor token_embd.weight has dims %v, want [%d n_vocab]", ti.Dims, c.NEmbd)
	}
	c.VocabSize = int(ti.Dims[1])
	m.Config = c

	if m.TokenEmbd, err = matrix(f, "token_embd.weight", c.NEmbd, c.VocabSize); err != nil {
		return nil, err
	}
	if m.OutputNorm, err = vector(f, "output_norm.weight", c.NEmbd); err != nil {
		return nil, err
	}
	if _, ok := f.Tensor("output.weight"); ok {
		if m.Output, err = matrix(f, "output.weight", c.NEmbd, c.VocabSize); err != nil {
			return nil, err
		}
	} else {
		m.Output = m.TokenEmbd
	}
	kv := c.NEmbdKV()
	m.Layers = make([]Layer, c.NLayer)
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		for _, s := range []struct {
			name       string
			dst        *Tensor
			cols, rows int
		}{
			{"attn_q", &l.Q, c.NEmbd, c.NEmbd},
			{"attn_k", &l.K, c.NEmbd, kv},
			{"attn_v", &l.V, c.NEmbd, kv},
			{"attn_output", &l.O, c.NEmbd, c.NEmbd},
			{"ffn_gate", &l.Gate, c.NEmbd, c.NFF},
			{"ffn_up", &l.Up, c.NEmbd, c.NFF},
			{"ffn_down", &l.Down, c.NFF, c.NEmbd},
		} {
			if *s.dst, err = matrix(f, p+s.name+".weight", s.cols, s.rows); err != nil {
				return nil, err
			}
		}
		if l.AttnNorm, err = vector(f, p+"attn_norm.weight", c.NEmbd); err != nil {
			return nil, err
		}
		if l.FFNNorm, err = vector(f, p+"ffn_norm.weight", c.NEmbd); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// matrix returns the named tensor, checking it has dims [cols rows] and a
// supported type.
func matrix(f *gguf.File, name string, cols, rows int) (Tensor, error) {
	ti, ok := f.Tensor(name)
	if !ok {
		return Tensor{}, fmt.Errorf("llama: tensor %s is missing", name)
	}
	if len(ti.Dims) != 2 || ti.Dims[0] != uint64(cols) || ti.Dims[1] != uint64(rows) {
		return Tensor{}, fmt.Errorf("llama: tensor %s has dims %v, want [%d %d]", name, ti.Dims, cols, rows)
	}
	if !supported(ti.Type) {
		return Tensor{}, fmt.Errorf("llama: tensor %s has type %v; supported: f32, f16, q8_0, q4_K, q6_K", name, ti.Type)
	}
	if bs := ti.Type.BlockSize(); cols%bs != 0 {
		return Tensor{}, fmt.Errorf("llama: tensor %s: %v row length %d is not a multiple of %d", name, ti.Type, cols, bs)
	}
	data, err := f.TensorData(name)
	if err != nil {
		return Tensor{}, fmt.Errorf("llama: tensor %s: %w", name, err)
	}
	t := Tensor{Name: name, Type: ti.Type, Cols: cols, Rows: rows, Data: data}
	if len(data) != rows*t.RowBytes() {
		return Tensor{}, fmt.Errorf("llama: tensor %s has %d bytes, want %d", name, len(data), rows*t.RowBytes())
	}
	return t, nil
}

// vector returns the named 1-D tensor of n values as float32 (a small copy,
// dequantized if needed).
func vector(f *gguf.File, name string, n int) ([]float32, error) {
	ti, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("llama: tensor %s is missing", name)
	}
	if len(ti.Dims) != 1 || ti.Dims[0] != uint64(n) {
		return nil, fmt.Errorf("llama: tensor %s has dims %v, want [%d]", name, ti.Dims, n)
	}
	if ti.Type != gguf.F32 && ti.Type != gguf.F16 {
		return nil, fmt.Errorf("llama: tensor %s has type %v; supported: f32, f16", name, ti.Type)
	}
	data, err := f.TensorData(name)
	if err != nil {
		return nil, fmt.Errorf("llama: tensor %s: %w", name, err)
	}
	t := Tensor{Name: name, Type: ti.Type, Cols: n, Rows: 1, Data: data}
	if len(data) != t.RowBytes() {
		return nil, fmt.Errorf("llama: tensor %s has %d bytes, want %d", name, len(data), t.RowBytes())
	}
	out := make([]float32, n)
	t.Row(out, 0)
	return out, nil
}

// State is the per-sequence state of a forward pass: a contiguous key/value
// cache per layer and scratch buffers. It is not safe for concurrent use.
type State struct {
	// CtxLen is the number of positions the cache holds.
	CtxLen int
	// K and V are, per layer, CtxLen rows of NEmbdKV values (RoPE already
	// applied to K).
	K, V [][]float32

	x, xb, xb2, q, att, hb, hb2, logits []float32
}

// NewState returns a State whose cache holds ctxLen positions.
func NewState(m *Model, ctxLen int) *State {
	if ctxLen <= 0 {
		panic("llama: NewState: ctxLen must be positive")
	}
	c := m.Config
	st := &State{
		CtxLen: ctxLen,
		K:      make([][]float32, c.NLayer),
		V:      make([][]float32, c.NLayer),
		x:      make([]float32, c.NEmbd),
		xb:     make([]float32, c.NEmbd),
		xb2:    make([]float32, c.NEmbd),
		q:      make([]float32, c.NEmbd),
		att:    make([]float32, ctxLen),
		hb:     make([]float32, c.NFF),
		hb2:    make([]float32, c.NFF),
		logits: make([]float32, c.VocabSize),
	}
	for i := range st.K {
		st.K[i] = make([]float32, ctxLen*c.NEmbdKV())
		st.V[i] = make([]float32, ctxLen*c.NEmbdKV())
	}
	return st
}

// Embed sets dst (NEmbd values) to token's row of token_embd.weight.
func (m *Model) Embed(dst []float32, token int32) {
	if token < 0 || int(token) >= m.VocabSize {
		panic(fmt.Sprintf("llama: token %d out of range [0, %d)", token, m.VocabSize))
	}
	m.TokenEmbd.Row(dst, int(token))
}

// kvHead returns the key/value head that query head h reads.
func (c Config) kvHead(h int) int { return h / (c.NHead / c.NHeadKV) }

// Forward runs token at position pos, storing its keys and values in st's
// cache (positions 0..pos-1 must have been run before with the same st), and
// returns the logits (VocabSize values). The slice is owned by st and
// overwritten by the next call.
func (m *Model) Forward(st *State, token int32, pos int) []float32 {
	c := m.Config
	if pos < 0 || pos >= st.CtxLen {
		panic(fmt.Sprintf("llama: position %d outside the cache [0, %d)", pos, st.CtxLen))
	}
	hd, kvDim := c.HeadDim, c.NEmbdKV()
	scale := 1 / math.Sqrt(float64(hd))
	x := st.x
	m.Embed(x, token)
	for li := range m.Layers {
		l := &m.Layers[li]
		RMSNorm(st.xb, x, l.AttnNorm, c.RMSEps)
		matVec(st.q, l.Q, st.xb)
		kRow := st.K[li][pos*kvDim : (pos+1)*kvDim]
		vRow := st.V[li][pos*kvDim : (pos+1)*kvDim]
		matVec(kRow, l.K, st.xb)
		matVec(vRow, l.V, st.xb)
		rope(st.q, hd, pos, c.RopeTheta)
		rope(kRow, hd, pos, c.RopeTheta)

		for h := 0; h < c.NHead; h++ {
			q := st.q[h*hd : (h+1)*hd]
			kvOff := c.kvHead(h) * hd
			att := st.att[:pos+1]
			for t := 0; t <= pos; t++ {
				k := st.K[li][t*kvDim+kvOff : t*kvDim+kvOff+hd]
				var s float64
				for i := range q {
					s += float64(q[i]) * float64(k[i])
				}
				att[t] = float32(s * scale)
			}
			Softmax(att)
			out := st.xb2[h*hd : (h+1)*hd]
			for i := range out {
				var s float64
				for t := 0; t <= pos; t++ {
					s += float64(att[t]) * float64(st.V[li][t*kvDim+kvOff+i])
				}
				out[i] = float32(s)
			}
		}
		matVec(st.xb, l.O, st.xb2)
		for i := range x {
			x[i] += st.xb[i]
		}

		RMSNorm(st.xb, x, l.FFNNorm, c.RMSEps)
		matVec(st.hb, l.Gate, st.xb)
		matVec(st.hb2, l.Up, st.xb)
		SwiGLU(st.hb, st.hb2)
		matVec(st.xb, l.Down, st.hb)
		for i := range x {
			x[i] += st.xb[i]
		}
	}
	RMSNorm(st.xb, x, m.OutputNorm, c.RMSEps)
	matVec(st.logits, m.Output, st.xb)
	return st.logits
}

// Argmax returns the index of the largest value (the first on ties).
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Generate runs prompt (at least one token) from position 0 of a fresh State
// and then greedily appends up to maxTokens tokens, stopping early after any
// token in stop. It returns the generated tokens (a stop token included).
// The prompt plus maxTokens must fit ctxLen.
func Generate(m *Model, prompt []int32, maxTokens, ctxLen int, stop ...int32) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, errors.New("llama: Generate: empty prompt")
	}
	if len(prompt)+maxTokens > ctxLen {
		return nil, fmt.Errorf("llama: Generate: %d prompt + %d new tokens exceed context %d", len(prompt), maxTokens, ctxLen)
	}
	st := NewState(m, ctxLen)
	var logits []float32
	for i, t := range prompt {
		logits = m.Forward(st, t, i)
	}
	var out []int32
	pos := len(prompt)
	for len(out) < maxTokens {
		next := int32(Argmax(logits))
		out = append(out, next)
		for _, s := range stop {
			if next == s {
				return out, nil
			}
		}
		if len(out) == maxTokens {
			break
		}
		logits = m.Forward(st, next, pos)
		pos++
	}
	return out, nil
}
