package llama

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
	"github.com/outpost-iot/outpost/accel/synth"
	"github.com/outpost-iot/outpost/accel/tokenizer"
)

// tinyFile writes the synth "tiny" model with quant q and seed 1 (tied
// embeddings if asked) and decodes it. Results are cached.
var (
	tinyMu    sync.Mutex
	tinyFiles = map[gguf.Type]*gguf.File{}
)

func tinyFile(t testing.TB, q gguf.Type, tied bool) *gguf.File {
	t.Helper()
	tinyMu.Lock()
	defer tinyMu.Unlock()
	key := q
	if tied {
		key |= 1 << 20
	}
	if f, ok := tinyFiles[key]; ok {
		return f
	}
	shape, err := synth.LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	shape.TiedEmbeddings = tied
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Shape: shape, Quant: q, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tinyFiles[key] = f
	return f
}

func tinyModel(t testing.TB, q gguf.Type) *Model {
	t.Helper()
	m, err := Load(tinyFile(t, q, false))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadTiny(t *testing.T) {
	m := tinyModel(t, gguf.Q8_0)
	c := m.Config
	if c.NEmbd != 128 || c.NFF != 352 || c.NLayer != 2 || c.NHead != 4 || c.NHeadKV != 2 ||
		c.HeadDim != 32 || c.VocabSize != 1024 || c.ContextLength != 512 || c.RopeTheta != 10000 || c.RMSEps != 1e-5 {
		t.Fatalf("config %+v", c)
	}
	if m.Output.Name != "output.weight" || m.Output.Type != gguf.Q8_0 {
		t.Errorf("output %s %v", m.Output.Name, m.Output.Type)
	}
	// Views, not copies.
	data, _ := tinyFile(t, gguf.Q8_0, false).TensorData("blk.1.ffn_down.weight")
	if &m.Layers[1].Down.Data[0] != &data[0] {
		t.Error("ffn_down is a copy, want a view")
	}
}

func TestLoadTied(t *testing.T) {
	m, err := Load(tinyFile(t, gguf.F16, true))
	if err != nil {
		t.Fatal(err)
	}
	if m.Output.Name != "token_embd.weight" {
		t.Fatalf("output = %s, want token_embd.weight", m.Output.Name)
	}
	logits := m.Forward(NewState(m, 4), 7, 0)
	for _, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite logit")
		}
	}
}

// reencode rebuilds f with edit applied to its metadata and tensors.
func reencode(t *testing.T, f *gguf.File, edit func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor) *gguf.File {
	t.Helper()
	var md gguf.Metadata
	for _, kv := range f.Metadata.KVs() {
		md.Set(kv.Key, kv.Value)
	}
	var ts []gguf.Tensor
	for _, ti := range f.Tensors {
		d, err := f.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, gguf.Tensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: d})
	}
	ts = edit(&md, ts)
	var buf bytes.Buffer
	if err := gguf.Encode(&buf, &md, ts); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestLoadErrors(t *testing.T) {
	f := tinyFile(t, gguf.Q8_0, false)
	cases := []struct {
		name, want string
		edit       func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor
	}{
		{"missing tensor", "blk.1.attn_v.weight is missing", func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor {
			var out []gguf.Tensor
			for _, x := range ts {
				if x.Name != "blk.1.attn_v.weight" {
					out = append(out, x)
				}
			}
			return out
		}},
		{"bad type", "blk.0.ffn_up.weight has type q4_0", func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor {
			for i := range ts {
				if ts[i].Name == "blk.0.ffn_up.weight" {
					ts[i].Type = gguf.Q4_0
					ts[i].Data = make([]byte, 352*128/32*18)
				}
			}
			return ts
		}},
		{"bad heads", "head_count 4 is not a multiple of head_count_kv 3", func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor {
			md.Set("llama.attention.head_count_kv", gguf.Uint32Value(3))
			return ts
		}},
		{"bad dims", "blk.0.attn_k.weight has dims [128 64], want [128 128]", func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor {
			md.Set("llama.attention.head_count_kv", gguf.Uint32Value(4))
			return ts
		}},
		{"other arch", `general.architecture "qwen2" is not supported`, func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor {
			md.Set("general.architecture", gguf.StringValue("qwen2"))
			return ts
		}},
		{"missing key", "llama.block_count", func(md *gguf.Metadata, ts []gguf.Tensor) []gguf.Tensor {
			var m2 gguf.Metadata
			for _, kv := range md.KVs() {
				if kv.Key != "llama.block_count" {
					m2.Set(kv.Key, kv.Value)
				}
			}
			*md = m2
			return ts
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(reencode(t, f, tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

// randTensor builds a rows×cols tensor of type typ from random values and
// returns it with its float64 dequantized values (the reference).
func randTensor(t *testing.T, rng *rand.Rand, typ gguf.Type, rows, cols int) (Tensor, [][]float64) {
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	var data []byte
	ref := make([][]float64, rows)
	switch typ {
	case gguf.F32:
		data = make([]byte, 4*len(src))
		for i, v := range src {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	case gguf.F16:
		data = make([]byte, 2*len(src))
		for i, v := range src {
			binary.LittleEndian.PutUint16(data[2*i:], gguf.Float32ToF16(v))
		}
	case gguf.Q8_0:
		data = make([]byte, len(src)/32*34)
		if err := gguf.QuantizeQ8_0(data, src); err != nil {
			t.Fatal(err)
		}
	case gguf.Q4_K:
		data = make([]byte, len(src)/256*144)
		if err := gguf.QuantizeQ4_K(data, src); err != nil {
			t.Fatal(err)
		}
	case gguf.Q6_K:
		data = make([]byte, len(src)/256*210)
		if err := gguf.QuantizeQ6_K(data, src); err != nil {
			t.Fatal(err)
		}
	}
	var deq []float32
	switch typ {
	case gguf.Q4_K:
		deq = make([]float32, len(src))
		if err := gguf.DequantizeQ4_K(deq, data); err != nil {
			t.Fatal(err)
		}
	case gguf.Q6_K:
		deq = make([]float32, len(src))
		if err := gguf.DequantizeQ6_K(deq, data); err != nil {
			t.Fatal(err)
		}
	}
	for r := range ref {
		ref[r] = make([]float64, cols)
		for c := range ref[r] {
			switch typ {
			case gguf.F32:
				ref[r][c] = float64(src[r*cols+c])
			case gguf.F16:
				ref[r][c] = float64(gguf.F16ToFloat32(binary.LittleEndian.Uint16(data[2*(r*cols+c):])))
			case gguf.Q8_0:
				blk := data[(r*cols+c)/32*34:]
				d := float64(gguf.F16ToFloat32(binary.LittleEndian.Uint16(blk)))
				ref[r][c] = d * float64(int8(blk[2+(r*cols+c)%32]))
			case gguf.Q4_K, gguf.Q6_K:
				ref[r][c] = float64(deq[r*cols+c])
			}
		}
	}
	return Tensor{Name: "w", Type: typ, Cols: cols, Rows: rows, Data: data}, ref
}

// TestMatVec checks matVec against a float64 product over the dequantized
// weights. The only error allowed is the final rounding to float32 plus
// float64 accumulation noise: |out - ref| <= 1e-6 × Σ|w·x| + 1e-30.
func TestMatVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []gguf.Type{gguf.F32, gguf.F16, gguf.Q8_0, gguf.Q4_K, gguf.Q6_K} {
		rows, cols := 17, 96
		if typ == gguf.Q4_K || typ == gguf.Q6_K {
			cols = 768
		}
		w, ref := randTensor(t, rng, typ, rows, cols)
		x := make([]float32, cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, rows)
		matVec(out, w, x)
		row := make([]float32, cols)
		for r := range rows {
			var s, mag float64
			for c := range cols {
				s += ref[r][c] * float64(x[c])
				mag += math.Abs(ref[r][c] * float64(x[c]))
			}
			if d := math.Abs(float64(out[r]) - s); d > 1e-6*mag+1e-30 {
				t.Errorf("%v row %d: got %v, want %v (diff %g, scale %g)", typ, r, out[r], s, d, mag)
			}
			// Row dequantizes to the same values.
			w.Row(row, r)
			for c := range cols {
				if float64(row[c]) != ref[r][c] {
					t.Fatalf("%v Row(%d)[%d] = %v, want %v", typ, r, c, row[c], ref[r][c])
				}
			}
		}
	}
}

// TestRoPE checks a hand-computed example: headDim 4, two heads, pos 1,
// theta 10000. Pair 0 turns by 1 rad, pair 1 by 10000^(-1/2) = 0.01 rad.
func TestRoPE(t *testing.T) {
	x := []float32{1, 0, 0, 1, 2, 3, 4, 5}
	rope(x, 4, 1, 10000)
	c1, s1 := math.Cos(1), math.Sin(1)
	c2, s2 := math.Cos(0.01), math.Sin(0.01)
	want := []float64{c1, s1, -s2, c2, 2*c1 - 3*s1, 2*s1 + 3*c1, 4*c2 - 5*s2, 4*s2 + 5*c2}
	for i := range x {
		if math.Abs(float64(x[i])-want[i]) > 1e-6 {
			t.Errorf("x[%d] = %v, want %v", i, x[i], want[i])
		}
	}
	// Position 0 is the identity.
	y := []float32{1, 2, 3, 4}
	rope(y, 4, 0, 10000)
	if y[0] != 1 || y[1] != 2 || y[2] != 3 || y[3] != 4 {
		t.Errorf("pos 0: %v", y)
	}
}

func TestOps(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	Softmax(x)
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	if math.Abs(s-1) > 1e-6 || math.Abs(float64(x[3]/x[2])-math.E) > 1e-5 {
		t.Errorf("softmax %v", x)
	}
	y := []float32{3, 4}
	RMSNorm(y, y, []float32{1, 2}, 0)
	// rms = sqrt(12.5)
	r := math.Sqrt(12.5)
	if math.Abs(float64(y[0])-3/r) > 1e-6 || math.Abs(float64(y[1])-8/r) > 1e-6 {
		t.Errorf("rmsNorm %v", y)
	}
	g := []float32{1, -2}
	SwiGLU(g, []float32{2, 3})
	if math.Abs(float64(g[0])-2/(1+math.Exp(-1))) > 1e-6 || math.Abs(float64(g[1])-3*-2/(1+math.Exp(2))) > 1e-6 {
		t.Errorf("swiGLU %v", g)
	}
}

// naiveLogits recomputes the whole sequence layer by layer, without any
// cache: for every layer, keys and values of all positions are computed from
// that layer's hidden states, then attention is computed from scratch. kvHead
// maps a query head to its key/value head. It returns the logits of every
// position.
func naiveLogits(m *Model, tokens []int32, kvHead func(h int) int) [][]float32 {
	c := m.Config
	n, hd := len(tokens), c.HeadDim
	xs := make([][]float32, n)
	for p, tok := range tokens {
		xs[p] = make([]float32, c.NEmbd)
		m.Embed(xs[p], tok)
	}
	for li := range m.Layers {
		l := &m.Layers[li]
		qs, ks, vs := make([][]float32, n), make([][]float32, n), make([][]float32, n)
		for p := range n {
			xb := make([]float32, c.NEmbd)
			RMSNorm(xb, xs[p], l.AttnNorm, c.RMSEps)
			qs[p], ks[p], vs[p] = make([]float32, c.NEmbd), make([]float32, c.NEmbdKV()), make([]float32, c.NEmbdKV())
			matVec(qs[p], l.Q, xb)
			matVec(ks[p], l.K, xb)
			matVec(vs[p], l.V, xb)
			rope(qs[p], hd, p, c.RopeTheta)
			rope(ks[p], hd, p, c.RopeTheta)
		}
		for p := range n {
			attnOut := make([]float32, c.NEmbd)
			for h := range c.NHead {
				kh := kvHead(h)
				w := make([]float64, p+1)
				mx := math.Inf(-1)
				for s := 0; s <= p; s++ {
					var d float64
					for i := range hd {
						d += float64(qs[p][h*hd+i]) * float64(ks[s][kh*hd+i])
					}
					w[s] = d / math.Sqrt(float64(hd))
					mx = math.Max(mx, w[s])
				}
				var sum float64
				for s := range w {
					w[s] = math.Exp(w[s] - mx)
					sum += w[s]
				}
				for i := range hd {
					var o float64
					for s := range w {
						o += w[s] / sum * float64(vs[s][kh*hd+i])
					}
					attnOut[h*hd+i] = float32(o)
				}
			}
			tmp := make([]float32, c.NEmbd)
			matVec(tmp, l.O, attnOut)
			for i := range tmp {
				xs[p][i] += tmp[i]
			}
			xb := make([]float32, c.NEmbd)
			RMSNorm(xb, xs[p], l.FFNNorm, c.RMSEps)
			g, u := make([]float32, c.NFF), make([]float32, c.NFF)
			matVec(g, l.Gate, xb)
			matVec(u, l.Up, xb)
			for i := range g {
				g[i] = float32(float64(g[i]) / (1 + math.Exp(-float64(g[i]))) * float64(u[i]))
			}
			matVec(tmp, l.Down, g)
			for i := range tmp {
				xs[p][i] += tmp[i]
			}
		}
	}
	out := make([][]float32, n)
	for p := range n {
		xb := make([]float32, c.NEmbd)
		RMSNorm(xb, xs[p], m.OutputNorm, c.RMSEps)
		out[p] = make([]float32, c.VocabSize)
		matVec(out[p], m.Output, xb)
	}
	return out
}

// maxRelDiff returns max|a-b| / max|b|.
func maxRelDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / s
}

var seq6 = []int32{1, 40, 300, 7, 1000, 52}

func incremental(m *Model, tokens []int32) [][]float32 {
	st := NewState(m, 8)
	var out [][]float32
	for p, tok := range tokens {
		out = append(out, append([]float32(nil), m.Forward(st, tok, p)...))
	}
	return out
}

// TestKVCacheConsistency: the logits of every position of a 6-token sequence
// computed incrementally through the cache match a from-scratch recompute
// within 1e-4 (max abs difference relative to the largest logit).
func TestKVCacheConsistency(t *testing.T) {
	m := tinyModel(t, gguf.Q8_0)
	inc := incremental(m, seq6)
	ref := naiveLogits(m, seq6, func(h int) int { return h * m.NHeadKV / m.NHead })
	for p := range seq6 {
		d := maxRelDiff(inc[p], ref[p])
		if d > 1e-4 || math.IsNaN(d) {
			t.Errorf("position %d: relative difference %g", p, d)
		}
		t.Logf("position %d: relative difference %g", p, d)
	}
}

// TestGQAMapping: tiny has 4 query heads and 2 key/value heads. The mapping
// must be h / (nHead/nHeadKV) = [0 0 1 1]; the interleaved h % nHeadKV
// = [0 1 0 1] must give different logits (so the consistency test above can
// tell them apart).
func TestGQAMapping(t *testing.T) {
	m := tinyModel(t, gguf.Q8_0)
	if m.NHead == m.NHeadKV {
		t.Fatal("tiny should use grouped-query attention")
	}
	for h, want := range []int{0, 0, 1, 1} {
		if got := m.kvHead(h); got != want {
			t.Errorf("kvHead(%d) = %d, want %d", h, got, want)
		}
	}
	inc := incremental(m, seq6)
	wrong := naiveLogits(m, seq6, func(h int) int { return h % m.NHeadKV })
	if d := maxRelDiff(inc[5], wrong[5]); d < 1e-3 {
		t.Errorf("wrong GQA mapping gives nearly the same logits (relative difference %g)", d)
	}
}

func correlation(a, b []float32) float64 {
	var ma, mb float64
	for i := range a {
		ma += float64(a[i])
		mb += float64(b[i])
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return sab / math.Sqrt(saa*sbb)
}

// TestQuantAgreement: the same seed written as F32 and as Q8_0 gives logits
// whose Pearson correlation is above 0.99 at every position of seq6, and
// whose argmax agrees at no fewer than 4 of the 6 positions.
func TestQuantAgreement(t *testing.T) {
	f32 := incremental(tinyModel(t, gguf.F32), seq6)
	q8 := incremental(tinyModel(t, gguf.Q8_0), seq6)
	agree := 0
	for p := range seq6 {
		c := correlation(f32[p], q8[p])
		if c < 0.99 || math.IsNaN(c) {
			t.Errorf("position %d: correlation %v", p, c)
		}
		if Argmax(f32[p]) == Argmax(q8[p]) {
			agree++
		}
		t.Logf("position %d: correlation %.6f, argmax f32 %d q8_0 %d", p, c, Argmax(f32[p]), Argmax(q8[p]))
	}
	if agree < 4 {
		t.Errorf("argmax agrees at %d of %d positions", agree, len(seq6))
	}
}

// TestQ4KAgreement: the Q4_K test model (Q4_K matrices, Q8_0 ffn_down)
// against the same weights in F32: logits correlate above 0.98 at every
// position of seq6 (Q4_K's weight error is about 7% RMS, Q8_0's 0.5%).
func TestQ4KAgreement(t *testing.T) {
	load := func(q gguf.Type) *Model {
		m, err := Load(testmodel.Q4K(t, q))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	mq := load(gguf.Q4_K)
	if mq.Layers[0].Q.Type != gguf.Q4_K || mq.Layers[0].Down.Type != gguf.Q8_0 || mq.Output.Type != gguf.Q4_K {
		t.Fatalf("types: q %v, down %v, output %v", mq.Layers[0].Q.Type, mq.Layers[0].Down.Type, mq.Output.Type)
	}
	f32 := incremental(load(gguf.F32), seq6)
	q4 := incremental(mq, seq6)
	for p := range seq6 {
		c := correlation(f32[p], q4[p])
		if c < 0.98 || math.IsNaN(c) {
			t.Errorf("position %d: correlation %v", p, c)
		}
		t.Logf("position %d: correlation %.6f, argmax f32 %d q4_K %d", p, c, Argmax(f32[p]), Argmax(q4[p]))
	}
}

// TestQ4KMLoads: the Q4_K_M test model (synth's mix: Q6_K output and
// layer 2's attn_v and ffn_down, Q4_K elsewhere) loads with those types
// and gives finite logits that follow the prompt.
func TestQ4KMLoads(t *testing.T) {
	m, err := Load(testmodel.Q4KM(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Output.Type != gguf.Q6_K || m.Layers[2].V.Type != gguf.Q6_K || m.Layers[2].Down.Type != gguf.Q6_K ||
		m.Layers[1].V.Type != gguf.Q4_K || m.Layers[1].Down.Type != gguf.Q4_K || m.Layers[0].Q.Type != gguf.Q4_K {
		t.Fatalf("types: output %v, layer 2 v %v down %v, layer 1 v %v down %v", m.Output.Type, m.Layers[2].V.Type, m.Layers[2].Down.Type, m.Layers[1].V.Type, m.Layers[1].Down.Type)
	}
	logits := incremental(m, seq6)
	for p, l := range logits {
		for _, v := range l {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("position %d: non-finite logit", p)
			}
		}
	}
	if c := correlation(logits[0], logits[len(logits)-1]); c > 0.999 {
		t.Errorf("first and last positions' logits correlate at %v: the input is ignored", c)
	}
}

// TestGenerate encodes a prompt, runs it through Forward, greedily generates
// 12 tokens twice and checks finiteness, determinism and valid UTF-8.
func TestGenerate(t *testing.T) {
	f := tinyFile(t, gguf.Q8_0, false)
	m := tinyModel(t, gguf.Q8_0)
	tok, err := tokenizer.FromGGUF(&f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode("Hello world, the cat", tokenizer.EncodeOptions{AddSpecial: true})
	if len(prompt) < 2 {
		t.Fatalf("prompt tokens %v", prompt)
	}
	const n = 12
	run := func() []int32 {
		st := NewState(m, len(prompt)+n)
		var logits []float32
		check := func() {
			for _, v := range logits {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatal("non-finite logit")
				}
			}
		}
		for i, id := range prompt {
			logits = m.Forward(st, id, i)
			check()
		}
		var out []int32
		for i := range n {
			next := int32(Argmax(logits))
			out = append(out, next)
			logits = m.Forward(st, next, len(prompt)+i)
			check()
		}
		return out
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatalf("not deterministic: %v vs %v", a, b)
	}
	g, err := Generate(m, prompt, n, len(prompt)+n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g, a) {
		t.Fatalf("Generate = %v, want %v", g, a)
	}
	dec := tok.NewDecoder(tokenizer.DecodeOptions{KeepSpace: true})
	var sb strings.Builder
	for _, id := range a {
		sb.WriteString(dec.Add(id))
	}
	sb.WriteString(dec.Flush())
	if !utf8.ValidString(sb.String()) {
		t.Fatalf("invalid UTF-8: %q", sb.String())
	}
	t.Logf("prompt %v -> %v %q", prompt, a, sb.String())
}
