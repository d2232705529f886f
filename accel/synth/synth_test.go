package synth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/outpost-iot/outpost/accel/gguf"
)

func tinyShape(t *testing.T) Shape {
	t.Helper()
	s, err := LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeBytes(t *testing.T, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestShapesValid(t *testing.T) {
	for _, s := range Shapes() {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if got, err := LookupShape(s.Name); err != nil || got != s {
			t.Errorf("LookupShape(%q) = %v, %v", s.Name, got, err)
		}
	}
	if _, err := LookupShape("nope"); !errors.Is(err, ErrUnknownShape) {
		t.Errorf("LookupShape(nope) error = %v, want ErrUnknownShape", err)
	}
	bad := tinyShape(t)
	bad.NFF = 100
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "n_ff 100") {
		t.Errorf("n_ff 100: error = %v", err)
	}
	bad = tinyShape(t)
	bad.NHeadKV = 3
	if err := bad.Validate(); err == nil {
		t.Error("4 heads, 3 KV heads: no error")
	}
}

func TestParseQuant(t *testing.T) {
	for name, want := range map[string]gguf.Type{"f32": gguf.F32, "F16": gguf.F16, "q8_0": gguf.Q8_0, "Q8_0": gguf.Q8_0, "q4_k": gguf.Q4_K, "Q4_K": gguf.Q4_K} {
		if got, mix, err := ParseQuant(name); err != nil || got != want || mix != Pure {
			t.Errorf("ParseQuant(%q) = %v, %v, %v; want %v", name, got, mix, err, want)
		}
	}
	if got, mix, err := ParseQuant("Q4_K_M"); err != nil || got != gguf.Q4_K || mix != MixQ4_K_M {
		t.Errorf("ParseQuant(Q4_K_M) = %v, %v, %v", got, mix, err)
	}
	if _, _, err := ParseQuant("q4_0"); err == nil {
		t.Error("ParseQuant(q4_0): no error")
	}
	if err := (Options{Shape: tinyShape(t), Quant: gguf.Q4_0}).Validate(); err == nil {
		t.Error("Q4_0 options: no error")
	}
	if err := (Options{Shape: tinyShape(t), Quant: gguf.Q8_0, Mix: MixQ4_K_M}).Validate(); err == nil {
		t.Error("Q8_0 with the Q4_K_M mix: no error")
	}
}

// TestUseMoreBits: the layers llama.cpp's Q4_K_M gives Q6_K attn_v and
// ffn_down, for TinyLlama's 22 layers (0, 1, 4, 7, 10, 13, 16, 19, 20,
// 21) and for small counts (below 8 layers the first eighth is empty).
func TestUseMoreBits(t *testing.T) {
	for n, want := range map[int][]int{
		22: {0, 1, 4, 7, 10, 13, 16, 19, 20, 21},
		2:  {1},
		3:  {2},
		8:  {0, 3, 6, 7},
		32: {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31},
	} {
		var got []int
		for i := range n {
			if useMoreBits(i, n) {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d layers: %v, want %v", n, got, want)
		}
	}
}

// TestQ4KM: with the Q4_K_M mix, output.weight and the chosen layers'
// attn_v and ffn_down are Q6_K (Q8_0 where rows are not a multiple of
// 256), the other matrices Q4_K, general.file_type 15; the Q6_K weights
// hold normal(0, 0.02) values within 6-bit error. TinyLlama's plan is
// about the size of published Q4_K_M TinyLlama files (667 MB).
func TestQ4KM(t *testing.T) {
	s := tinyShape(t)
	s.NEmbd, s.NFF, s.NLayer = 256, 512, 3
	var buf bytes.Buffer
	if err := Write(&buf, Options{Shape: s, Quant: gguf.Q4_K, Mix: MixQ4_K_M, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ft, _ := f.Metadata.Uint("general.file_type"); ft != 15 {
		t.Errorf("file_type %d, want 15 (MOSTLY_Q4_K_M)", ft)
	}
	for _, ti := range f.Tensors {
		want := gguf.Q4_K
		switch {
		case len(ti.Dims) == 1:
			want = gguf.F32
		case ti.Name == "output.weight",
			ti.Name == "blk.2.attn_v.weight", ti.Name == "blk.2.ffn_down.weight":
			want = gguf.Q6_K
		}
		if ti.Type != want {
			t.Errorf("%s: %v, want %v", ti.Name, ti.Type, want)
		}
	}
	data, _ := f.TensorData("output.weight")
	w := make([]float32, 256*1024)
	if err := gguf.DequantizeQ6_K(w, data); err != nil {
		t.Fatal(err)
	}
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	if sd := math.Sqrt(ss / float64(len(w))); sd < 0.0195 || sd > 0.0205 {
		t.Errorf("output standard deviation %v, want about 0.02", sd)
	}

	// Rows of 352: the Q6_K matrices fall back to Q8_0 too; tied
	// embeddings take the output's type.
	s.NFF, s.TiedEmbeddings = 352, true
	plan, _, err := Plan(Options{Shape: s, Quant: gguf.Q4_K, Mix: MixQ4_K_M})
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range plan {
		want := map[string]gguf.Type{"token_embd.weight": gguf.Q6_K, "blk.2.ffn_down.weight": gguf.Q8_0, "blk.2.attn_v.weight": gguf.Q6_K, "blk.1.attn_v.weight": gguf.Q4_K}[ti.Name]
		if want != 0 && ti.Type != want {
			t.Errorf("tied, n_ff 352: %s: %v, want %v", ti.Name, ti.Type, want)
		}
	}

	tl, err := LookupShape("tinyllama-1.1b")
	if err != nil {
		t.Fatal(err)
	}
	plan, size, err := Plan(Options{Shape: tl, Quant: gguf.Q4_K, Mix: MixQ4_K_M})
	if err != nil {
		t.Fatal(err)
	}
	var q6 int
	for _, ti := range plan {
		if ti.Type == gguf.Q6_K {
			q6++
		}
	}
	t.Logf("tinyllama-1.1b q4_k_m: %d bytes, %d Q6_K matrices", size, q6)
	if q6 != 21 || size < 660_000_000 || size > 675_000_000 {
		t.Errorf("tinyllama-1.1b q4_k_m: %d Q6_K matrices, size %d; want 21 (output, 10 attn_v, 10 ffn_down) and about 667 MB", q6, size)
	}
}

func TestWriteTiny(t *testing.T) {
	s := tinyShape(t)
	for _, tc := range []struct {
		quant    gguf.Type
		fileType uint64
		maxSize  int64
	}{
		{gguf.Q8_0, 7, 1 << 20},
		{gguf.F16, 1, 2 << 20},
		{gguf.F32, 0, 4 << 20},
	} {
		t.Run(tc.quant.String(), func(t *testing.T) {
			opts := Options{Shape: s, Quant: tc.quant, Seed: 1}
			data := writeBytes(t, opts)
			plan, size, err := Plan(opts)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != size {
				t.Errorf("wrote %d bytes, Size says %d", len(data), size)
			}
			if size > tc.maxSize {
				t.Errorf("size %d > %d", size, tc.maxSize)
			}
			f, err := gguf.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			md := &f.Metadata
			wantStr := map[string]string{
				"general.architecture":    "llama",
				"general.name":            "tiny",
				"tokenizer.ggml.model":    "llama",
				"tokenizer.chat_template": ChatTemplate,
			}
			for k, want := range wantStr {
				if got, err := md.String(k); err != nil || got != want {
					t.Errorf("%s = %q, %v; want %q", k, got, err, want)
				}
			}
			wantUint := map[string]uint64{
				"general.file_type":               tc.fileType,
				"general.alignment":               32,
				"llama.vocab_size":                1024,
				"llama.context_length":            512,
				"llama.embedding_length":          128,
				"llama.block_count":               2,
				"llama.feed_forward_length":       352,
				"llama.attention.head_count":      4,
				"llama.attention.head_count_kv":   2,
				"llama.rope.dimension_count":      32,
				"tokenizer.ggml.bos_token_id":     1,
				"tokenizer.ggml.eos_token_id":     2,
				"tokenizer.ggml.eot_token_id":     4,
				"tokenizer.ggml.unknown_token_id": 0,
			}
			for k, want := range wantUint {
				if v, ok := md.Get(k); !ok || v.Type() != gguf.ValueUint32 {
					t.Errorf("%s: %v, want a uint32", k, v)
				} else if got, _ := v.Uint(); got != want {
					t.Errorf("%s = %d, want %d", k, got, want)
				}
			}
			wantFloat := map[string]float64{"llama.rope.freq_base": 10000, "llama.attention.layer_norm_rms_epsilon": 1e-5}
			for k, want := range wantFloat {
				if v, ok := md.Get(k); !ok || v.Type() != gguf.ValueFloat32 {
					t.Errorf("%s: %v, want a float32", k, v)
				} else if got, _ := v.Float(); float32(got) != float32(want) {
					t.Errorf("%s = %g, want %g", k, got, want)
				}
			}
			if b, err := md.Bool("tokenizer.ggml.add_bos_token"); err != nil || !b {
				t.Errorf("add_bos_token = %v, %v", b, err)
			}

			// Tensor table: 1 + 9 per layer + output_norm + output.
			if len(f.Tensors) != 1+9*2+2 || len(plan) != len(f.Tensors) {
				t.Fatalf("%d tensors (plan %d), want 21", len(f.Tensors), len(plan))
			}
			for i, ti := range f.Tensors {
				p := plan[i]
				if ti.Name != p.Name || ti.Type != p.Type || ti.Offset != p.Offset || ti.Size != p.Size || !slices.Equal(ti.Dims, p.Dims) {
					t.Errorf("tensor %d: file %+v, plan %+v", i, ti, p)
				}
			}
			wantDims := map[string][]uint64{
				"token_embd.weight":        {128, 1024},
				"blk.0.attn_norm.weight":   {128},
				"blk.0.attn_q.weight":      {128, 128},
				"blk.0.attn_k.weight":      {128, 64},
				"blk.0.attn_v.weight":      {128, 64},
				"blk.1.attn_output.weight": {128, 128},
				"blk.1.ffn_norm.weight":    {128},
				"blk.1.ffn_gate.weight":    {128, 352},
				"blk.1.ffn_up.weight":      {128, 352},
				"blk.1.ffn_down.weight":    {352, 128},
				"output_norm.weight":       {128},
				"output.weight":            {128, 1024},
			}
			for name, dims := range wantDims {
				ti, ok := f.Tensor(name)
				if !ok {
					t.Errorf("no tensor %s", name)
					continue
				}
				if !slices.Equal(ti.Dims, dims) {
					t.Errorf("%s dims %v, want %v", name, ti.Dims, dims)
				}
				wantType := tc.quant
				if strings.Contains(name, "norm") {
					wantType = gguf.F32
				}
				if ti.Type != wantType {
					t.Errorf("%s type %v, want %v", name, ti.Type, wantType)
				}
				if sz, _ := wantType.TensorSize(dims); ti.Size != sz {
					t.Errorf("%s size %d, want %d", name, ti.Size, sz)
				}
			}
			norm, _ := f.TensorData("blk.0.ffn_norm.weight")
			if !bytes.Equal(norm, ones(128)) {
				t.Error("ffn_norm is not all ones")
			}
			checkScale(t, f, "blk.1.ffn_down.weight")
			checkScale(t, f, "token_embd.weight")
		})
	}
}

// checkScale decodes a matrix and checks mean ≈ 0 and deviation ≈
// WeightScale.
func checkScale(t *testing.T, f *gguf.File, name string) {
	t.Helper()
	ti, _ := f.Tensor(name)
	raw, err := f.TensorData(name)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]float32, ti.Elements())
	switch ti.Type {
	case gguf.Q8_0:
		if err := gguf.DequantizeQ8_0(vals, raw); err != nil {
			t.Fatal(err)
		}
	case gguf.F16:
		for i := range vals {
			vals[i] = gguf.F16ToFloat32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
	case gguf.F32:
		for i := range vals {
			vals[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
	}
	var sum, sq float64
	for _, v := range vals {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(vals))
	mean, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	if math.Abs(mean) > 0.001 || math.Abs(sd-WeightScale) > 0.001 {
		t.Errorf("%s (%v): mean %g, sd %g; want 0, %g", name, ti.Type, mean, sd, WeightScale)
	}
}

func TestVocab(t *testing.T) {
	for _, n := range []int{MinVocabSize, 1024, 32000, 65536} {
		v, err := NewVocab(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Tokens) != n || len(v.Scores) != n || len(v.Types) != n {
			t.Fatalf("n=%d: %d tokens, %d scores, %d types", n, len(v.Tokens), len(v.Scores), len(v.Types))
		}
		checkVocab(t, v)
	}
	if _, err := NewVocab(MinVocabSize - 1); err == nil {
		t.Error("vocab below minimum: no error")
	}
}

func checkVocab(t *testing.T, v Vocab) {
	t.Helper()
	wantFirst := []string{"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "▁"}
	for i, w := range wantFirst {
		if v.Tokens[i] != w {
			t.Errorf("token %d = %q, want %q", i, v.Tokens[i], w)
		}
	}
	seen := map[string]int{}
	prev := float32(math.Inf(1))
	for i, tok := range v.Tokens {
		if !utf8.ValidString(tok) {
			t.Errorf("token %d %q is not valid UTF-8", i, tok)
		}
		if j, ok := seen[tok]; ok {
			t.Errorf("token %d %q duplicates token %d", i, tok, j)
		}
		seen[tok] = i
		switch typ := v.Types[i]; {
		case i == UnknownToken:
			if typ != TokenUnknown {
				t.Errorf("<unk> type %d", typ)
			}
		case i < FirstPiece:
			if typ != TokenControl {
				t.Errorf("token %d %q type %d, want control", i, tok, typ)
			}
		default:
			if typ != TokenNormal {
				t.Errorf("token %d %q type %d, want normal", i, tok, typ)
			}
			if tok == "" {
				t.Errorf("token %d is empty", i)
			}
			for _, r := range tok {
				if !unicode.IsPrint(r) || r == ' ' {
					t.Errorf("token %d %q has unprintable rune %U", i, tok, r)
				}
			}
			if !(v.Scores[i] < prev) || v.Scores[i] >= 0 {
				t.Errorf("token %d score %g not below %g and negative", i, v.Scores[i], prev)
			}
			prev = v.Scores[i]
		}
	}
	want := []string{"▁", "a", "~"}
	if len(v.Tokens) >= 1024 {
		want = append(want, "▁the", "the", "▁hello")
	}
	for _, w := range want {
		if _, ok := seen[w]; !ok {
			t.Errorf("no piece %q", w)
		}
	}
}

func TestVocabInFile(t *testing.T) {
	f, err := gguf.Decode(writeBytes(t, Options{Shape: tinyShape(t), Quant: gguf.Q8_0}))
	if err != nil {
		t.Fatal(err)
	}
	toks, err1 := f.Metadata.Strings("tokenizer.ggml.tokens")
	scores, err2 := f.Metadata.Float32s("tokenizer.ggml.scores")
	types, err3 := f.Metadata.Int32s("tokenizer.ggml.token_type")
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1024 {
		t.Fatalf("%d tokens, want 1024", len(toks))
	}
	checkVocab(t, Vocab{toks, scores, types})
}

func TestDeterministic(t *testing.T) {
	s := tinyShape(t)
	a := writeBytes(t, Options{Shape: s, Quant: gguf.Q8_0, Seed: 7})
	b := writeBytes(t, Options{Shape: s, Quant: gguf.Q8_0, Seed: 7})
	c := writeBytes(t, Options{Shape: s, Quant: gguf.Q8_0, Seed: 8})
	if !bytes.Equal(a, b) {
		t.Error("same seed, different bytes")
	}
	if len(a) != len(c) {
		t.Fatalf("seed changed the size: %d, %d", len(a), len(c))
	}
	fa, _ := gguf.Decode(a)
	fc, _ := gguf.Decode(c)
	for _, ti := range fa.Tensors {
		da, _ := fa.TensorData(ti.Name)
		dc, _ := fc.TensorData(ti.Name)
		if bytes.Equal(da, dc) != strings.Contains(ti.Name, "norm") {
			t.Errorf("%s: seeds 7 and 8 equal = %v", ti.Name, bytes.Equal(da, dc))
		}
	}
	// Tensors with the same shape get different weights.
	q, _ := fa.TensorData("blk.0.attn_q.weight")
	o, _ := fa.TensorData("blk.0.attn_output.weight")
	if bytes.Equal(q, o) {
		t.Error("attn_q and attn_output are identical")
	}
}

func TestTiedEmbeddings(t *testing.T) {
	s := tinyShape(t)
	s.TiedEmbeddings = true
	opts := Options{Shape: s, Quant: gguf.F16}
	f, err := gguf.Decode(writeBytes(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Tensor("output.weight"); ok {
		t.Error("tied shape has output.weight")
	}
	if size, _ := Size(opts); size != f.Size {
		t.Errorf("Size %d, file %d", size, f.Size)
	}
}

// TestTinyLlamaPlan checks the 1.1B shape without writing it: the tensor
// table and the size against TinyLlama-1.1B-Chat-v1.0 Q8_0 as published
// (1,170,781,568 bytes, TheBloke's GGUF).
func TestTinyLlamaPlan(t *testing.T) {
	s, err := LookupShape("tinyllama-1.1b")
	if err != nil {
		t.Fatal(err)
	}
	plan, size, err := Plan(Options{Shape: s, Quant: gguf.Q8_0})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1+9*22+2 {
		t.Errorf("%d tensors, want 201", len(plan))
	}
	var params uint64
	for _, ti := range plan {
		params += ti.Elements()
	}
	if params != 1_100_048_384 {
		t.Errorf("%d parameters, want 1100048384", params)
	}
	const published = 1_170_781_568
	t.Logf("tinyllama-1.1b q8_0: %d bytes (published %d)", size, published)
	if d := math.Abs(float64(size)-published) / published; d > 0.01 {
		t.Errorf("size %d differs from %d by %.1f%%", size, published, 100*d)
	}
	byName := map[string][]uint64{}
	for _, ti := range plan {
		byName[ti.Name] = ti.Dims
	}
	for name, dims := range map[string][]uint64{
		"token_embd.weight":      {2048, 32000},
		"blk.21.attn_k.weight":   {2048, 256},
		"blk.21.ffn_down.weight": {5632, 2048},
		"output.weight":          {2048, 32000},
	} {
		if !slices.Equal(byName[name], dims) {
			t.Errorf("%s dims %v, want %v", name, byName[name], dims)
		}
	}
	f16, _ := Size(Options{Shape: s, Quant: gguf.F16})
	if f16 < 2_200_000_000 || f16 > 2_210_000_000 {
		t.Errorf("f16 size %d, want about 2.2 GB", f16)
	}
}

// TestQ4K: with Q4_K, matrices with rows a multiple of 256 long are
// Q4_K and hold the normal(0, 0.02) weights within Q4_K's error, the
// others are Q8_0; the TinyLlama shape is all Q4_K, about 0.6 GiB.
func TestQ4K(t *testing.T) {
	s := tinyShape(t)
	s.NEmbd, s.NFF = 256, 352 // ffn_down rows are 352 long: Q8_0
	var buf bytes.Buffer
	if err := Write(&buf, Options{Shape: s, Quant: gguf.Q4_K, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ft, _ := f.Metadata.Uint("general.file_type"); ft != 14 {
		t.Errorf("file_type %d, want 14 (MOSTLY_Q4_K_S)", ft)
	}
	for _, ti := range f.Tensors {
		want := gguf.Q4_K
		switch {
		case len(ti.Dims) == 1:
			want = gguf.F32
		case strings.HasSuffix(ti.Name, "ffn_down.weight"):
			want = gguf.Q8_0
		}
		if ti.Type != want {
			t.Errorf("%s: %v, want %v", ti.Name, ti.Type, want)
		}
	}
	data, _ := f.TensorData("blk.1.ffn_up.weight")
	w := make([]float32, 256*352)
	if err := gguf.DequantizeQ4_K(w, data); err != nil {
		t.Fatal(err)
	}
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	if sd := math.Sqrt(ss / float64(len(w))); sd < 0.019 || sd > 0.021 {
		t.Errorf("ffn_up standard deviation %v, want about 0.02", sd)
	}
	tl, err := LookupShape("tinyllama-1.1b")
	if err != nil {
		t.Fatal(err)
	}
	plan, size, err := Plan(Options{Shape: tl, Quant: gguf.Q4_K})
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range plan {
		if len(ti.Dims) == 2 && ti.Type != gguf.Q4_K {
			t.Errorf("tinyllama %s: %v", ti.Name, ti.Type)
		}
	}
	t.Logf("tinyllama-1.1b q4_k: %d bytes", size)
	if size < 610_000_000 || size > 625_000_000 {
		t.Errorf("tinyllama-1.1b q4_k size %d, want about 619 MB (1.1e9 × 4.5 bits)", size)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.gguf")
	opts := Options{Shape: tinyShape(t), Quant: gguf.Q8_0, Seed: 3}
	var calls int
	var last, lastTotal int64
	err := WriteFile(context.Background(), path, opts, func(done, total int64) {
		calls++
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, lastTotal = done, total
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, writeBytes(t, opts)) {
		t.Error("file differs from Write's output")
	}
	if calls == 0 || last != int64(len(got)) || lastTotal != int64(len(got)) {
		t.Errorf("progress: %d calls, last %d/%d, file %d", calls, last, lastTotal, len(got))
	}

	// A cancelled write leaves neither the file nor a temporary.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path2 := filepath.Join(dir, "cancelled.gguf")
	if err := WriteFile(ctx, path2, opts, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only tiny.gguf", len(entries))
	}
}

func BenchmarkWriteTinyQ8_0(b *testing.B) {
	s, _ := LookupShape("tiny")
	opts := Options{Shape: s, Quant: gguf.Q8_0}
	size, _ := Size(opts)
	b.SetBytes(size)
	for b.Loop() {
		if err := Write(io.Discard, opts); err != nil {
			b.Fatal(err)
		}
	}
}
