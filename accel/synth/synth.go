package synth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/outpost-iot/outpost/accel/gguf"
)

// WeightScale is the standard deviation of the random weights.
const WeightScale = 0.02

// Alignment is the data alignment written to general.alignment.
const Alignment = 32

// Options selects what Write produces.
type Options struct {
	// Shape is the model shape, usually from LookupShape.
	Shape Shape
	// Quant is the type of the weight matrices: gguf.F32, gguf.F16,
	// gguf.Q8_0 or gguf.Q4_K. Norm weights are always F32. With Q4_K, a
	// matrix whose rows are not a multiple of 256 long (Q4_K's
	// super-block) is written as Q8_0 instead (llama.cpp's quantizer
	// falls back too, to Q5_0): every matrix of "tiny" (rows of 128 and
	// 352), none of "tinyllama-1.1b" (2048 and 5632 = 22 × 256). Default
	// (zero): F32.
	Quant gguf.Type
	// Mix, if not Pure, overrides Quant for some matrices as one of
	// llama.cpp's mixes does (see MixQ4_K_M). Default (zero): Pure.
	Mix Mix
	// Seed selects the random weights; the same Options give the same
	// bytes.
	Seed int64
}

// Mix is a per-tensor quantization recipe on top of Options.Quant.
type Mix uint8

const (
	// Pure gives every matrix Options.Quant (with matrixType's Q8_0
	// fallback).
	Pure Mix = iota
	// MixQ4_K_M is llama.cpp's Q4_K_M mix for the llama architecture
	// (Options.Quant must be Q4_K), the form most published edge models
	// ship in: output.weight (token_embd.weight instead when the
	// embeddings are tied) in Q6_K, and attn_v.weight and
	// ffn_down.weight in Q6_K on the layers useMoreBits picks; the
	// other matrices Q4_K; any matrix whose rows are not a multiple of
	// 256 long in Q8_0 (llama.cpp falls back to Q8_0 for the output
	// and Q5_0 or Q8_0 elsewhere). general.file_type says
	// MOSTLY_Q4_K_M.
	MixQ4_K_M
)

// ParseQuant maps a --quant name ("f32", "f16", "q8_0", "q4_k",
// "q4_k_m", any case) to the type of the weight matrices and the mix.
func ParseQuant(name string) (gguf.Type, Mix, error) {
	switch strings.ToLower(name) {
	case "f32":
		return gguf.F32, Pure, nil
	case "f16":
		return gguf.F16, Pure, nil
	case "q8_0":
		return gguf.Q8_0, Pure, nil
	case "q4_k":
		return gguf.Q4_K, Pure, nil
	case "q4_k_m":
		return gguf.Q4_K, MixQ4_K_M, nil
	}
	return 0, Pure, fmt.Errorf("synth: unknown quantization %q (have f32, f16, q8_0, q4_k, q4_k_m)", name)
}

// fileType returns general.file_type for a quantization (llama_ftype:
// ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_Q4_K_S 14 for pure
// Q4_K, every matrix Q4_K and none Q6_K, MOSTLY_Q4_K_M 15).
func fileType(t gguf.Type, m Mix) (uint32, error) {
	switch {
	case m == MixQ4_K_M && t == gguf.Q4_K:
		return 15, nil
	case m != Pure:
		return 0, fmt.Errorf("synth: mix %d does not apply to %v (MixQ4_K_M needs Q4_K)", m, t)
	}
	switch t {
	case gguf.F32:
		return 0, nil
	case gguf.F16:
		return 1, nil
	case gguf.Q8_0:
		return 7, nil
	case gguf.Q4_K:
		return 14, nil
	}
	return 0, fmt.Errorf("synth: quantization %v is not supported (use F32, F16, Q8_0 or Q4_K)", t)
}

// matrixType is the type a d0-long-row matrix gets when type q is asked
// for: q, or Q8_0 where q is a k-quant (Q4_K, Q6_K) and d0 is not a
// multiple of its 256-weight super-block.
func matrixType(q gguf.Type, d0 uint64) gguf.Type {
	if (q == gguf.Q4_K || q == gguf.Q6_K) && d0%gguf.Q4_KBlockSize != 0 {
		return gguf.Q8_0
	}
	return q
}

// useMoreBits is llama.cpp's choice of the layers (i of n) whose attn_v
// and ffn_down get more bits in its _M mixes: the first and the last
// eighth of the layers, and from the first eighth on every third layer,
// starting with the third.
func useMoreBits(i, n int) bool {
	first, last := n/8, 7*n/8
	return i < first || i >= last || (i-first)%3 == 2
}

// Validate checks the shape and the quantization.
func (o Options) Validate() error {
	if err := o.Shape.Validate(); err != nil {
		return err
	}
	_, err := fileType(o.Quant, o.Mix)
	return err
}

// tensor is one planned tensor: its table entry and whether it is a norm
// (ones) or a random matrix.
type tensor struct {
	name string
	dims []uint64
	typ  gguf.Type
	norm bool
}

// tensors lists the model's tensors in file order, with llama.cpp's names
// (LLM_ARCH_LLAMA) and dims[0] the contiguous (input) dimension.
func (o Options) tensors() []tensor {
	s := o.Shape
	e, kv, ff, nv := uint64(s.NEmbd), uint64(s.NEmbdKV()), uint64(s.NFF), uint64(s.VocabSize)
	// more is the type of the matrices the mix gives more bits.
	more := o.Quant
	if o.Mix == MixQ4_K_M {
		more = gguf.Q6_K
	}
	matOf := func(q gguf.Type, name string, d0, d1 uint64) tensor {
		return tensor{name: name, dims: []uint64{d0, d1}, typ: matrixType(q, d0)}
	}
	mat := func(name string, d0, d1 uint64) tensor { return matOf(o.Quant, name, d0, d1) }
	norm := func(name string) tensor {
		return tensor{name: name, dims: []uint64{e}, typ: gguf.F32, norm: true}
	}
	embd := mat("token_embd.weight", e, nv)
	if s.TiedEmbeddings { // also the output: quantized as the output
		embd = matOf(more, "token_embd.weight", e, nv)
	}
	ts := []tensor{embd}
	for i := range s.NLayer {
		p := fmt.Sprintf("blk.%d.", i)
		layerMore := o.Quant
		if useMoreBits(i, s.NLayer) {
			layerMore = more
		}
		ts = append(ts,
			norm(p+"attn_norm.weight"),
			mat(p+"attn_q.weight", e, e),
			mat(p+"attn_k.weight", e, kv),
			matOf(layerMore, p+"attn_v.weight", e, kv),
			mat(p+"attn_output.weight", e, e),
			norm(p+"ffn_norm.weight"),
			mat(p+"ffn_gate.weight", e, ff),
			mat(p+"ffn_up.weight", e, ff),
			matOf(layerMore, p+"ffn_down.weight", ff, e),
		)
	}
	ts = append(ts, norm("output_norm.weight"))
	if !s.TiedEmbeddings {
		ts = append(ts, matOf(more, "output.weight", e, nv))
	}
	return ts
}

// metadata builds the GGUF metadata: general.*, llama.* and tokenizer.*.
func (o Options) metadata() (*gguf.Metadata, error) {
	s := o.Shape
	ft, err := fileType(o.Quant, o.Mix)
	if err != nil {
		return nil, err
	}
	v, err := NewVocab(s.VocabSize)
	if err != nil {
		return nil, err
	}
	u32 := func(n int) gguf.Value { return gguf.Uint32Value(uint32(n)) }
	md := &gguf.Metadata{}
	md.Set("general.architecture", gguf.StringValue("llama"))
	md.Set("general.name", gguf.StringValue(s.Name))
	md.Set("general.description", gguf.StringValue(fmt.Sprintf(
		"random weights (outpost model synth, shape %s, seed %d); not a trained model", s.Name, o.Seed)))
	md.Set("general.file_type", gguf.Uint32Value(ft))
	md.Set(gguf.KeyAlignment, gguf.Uint32Value(Alignment))
	md.Set("llama.vocab_size", u32(s.VocabSize))
	md.Set("llama.context_length", u32(s.ContextLength))
	md.Set("llama.embedding_length", u32(s.NEmbd))
	md.Set("llama.block_count", u32(s.NLayer))
	md.Set("llama.feed_forward_length", u32(s.NFF))
	md.Set("llama.attention.head_count", u32(s.NHead))
	md.Set("llama.attention.head_count_kv", u32(s.NHeadKV))
	md.Set("llama.rope.dimension_count", u32(s.HeadDim()))
	md.Set("llama.rope.freq_base", gguf.Float32Value(s.RopeTheta))
	md.Set("llama.attention.layer_norm_rms_epsilon", gguf.Float32Value(s.RMSEps))
	md.Set("tokenizer.ggml.model", gguf.StringValue("llama"))
	md.Set("tokenizer.ggml.tokens", gguf.StringsValue(v.Tokens))
	md.Set("tokenizer.ggml.scores", gguf.Float32sValue(v.Scores))
	md.Set("tokenizer.ggml.token_type", gguf.Int32sValue(v.Types))
	md.Set("tokenizer.ggml.bos_token_id", u32(BOSToken))
	md.Set("tokenizer.ggml.eos_token_id", u32(EOSToken))
	md.Set("tokenizer.ggml.eot_token_id", u32(IMEndToken))
	md.Set("tokenizer.ggml.unknown_token_id", u32(UnknownToken))
	md.Set("tokenizer.ggml.add_bos_token", gguf.BoolValue(true))
	md.Set("tokenizer.ggml.add_eos_token", gguf.BoolValue(false))
	md.Set("tokenizer.chat_template", gguf.StringValue(ChatTemplate))
	return md, nil
}

// countWriter counts bytes and discards them.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// Plan returns the tensor table that Write produces (names, dims, types,
// offsets and sizes) and the size of the file in bytes, without generating
// any weights.
func Plan(opts Options) ([]gguf.TensorInfo, int64, error) {
	if err := opts.Validate(); err != nil {
		return nil, 0, err
	}
	md, err := opts.metadata()
	if err != nil {
		return nil, 0, err
	}
	ts := opts.tensors()
	infos := make([]gguf.TensorInfo, len(ts))
	for i, t := range ts {
		infos[i] = gguf.TensorInfo{Name: t.name, Dims: t.dims, Type: t.typ}
	}
	var cw countWriter
	tw, err := gguf.NewWriter(&cw, md, infos)
	if err != nil {
		return nil, 0, fmt.Errorf("synth: %w", err)
	}
	infos = tw.Tensors()
	size := tw.DataOffset()
	if n := len(infos); n > 0 {
		last := infos[n-1]
		end := (last.Offset + last.Size + Alignment - 1) / Alignment * Alignment
		if end > math.MaxInt64-uint64(size) {
			return nil, 0, fmt.Errorf("synth: model size overflows")
		}
		size += int64(end)
	}
	return infos, size, nil
}

// Size returns the size in bytes of the file Write produces.
func Size(opts Options) (int64, error) {
	_, n, err := Plan(opts)
	return n, err
}

// Write writes the model to w as a GGUF v3 file. Memory use is bounded by
// 64 matrix rows and the vocabulary, so it suits multi-gigabyte models; w
// sees writes of up to 1 MiB.
func Write(w io.Writer, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	md, err := opts.metadata()
	if err != nil {
		return err
	}
	ts := opts.tensors()
	out := make([]gguf.Tensor, len(ts))
	for i, t := range ts {
		out[i] = gguf.Tensor{Name: t.name, Dims: t.dims, Type: t.typ}
		if t.norm {
			out[i].Data = ones(int(t.dims[0]))
		} else {
			out[i].WriteData = func(w io.Writer) error { return writeRandom(w, t, opts.Seed) }
		}
	}
	if err := gguf.Encode(w, md, out); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// ones returns n float32 ones, little-endian.
func ones(n int) []byte {
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(1))
	}
	return b
}

// tensorRand returns the generator for one tensor: PCG seeded by the seed
// and a hash of the tensor name, so tensors are independent of each other
// and of their order.
func tensorRand(seed int64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// writeRandom streams a matrix of normal(0, WeightScale) values row by row
// in the tensor's type. Rows are drawn in order from the tensor's
// generator in batches of up to batchRows and encoded in parallel (Q4_K's
// quantizer is slow), so the bytes do not depend on the parallelism.
func writeRandom(w io.Writer, t tensor, seed int64) error {
	rng := tensorRand(seed, t.name)
	n := int(t.dims[0])
	rows := 1
	for _, d := range t.dims[1:] {
		rows *= int(d)
	}
	rowBytes, err := t.typ.RowSize(n)
	if err != nil {
		return err
	}
	const batchRows = 64
	vals := make([]float32, min(rows, batchRows)*n)
	buf := make([]byte, min(rows, batchRows)*rowBytes)
	workers := runtime.GOMAXPROCS(0)
	for done := 0; done < rows; {
		k := min(batchRows, rows-done)
		for j := range vals[:k*n] {
			vals[j] = float32(rng.NormFloat64() * WeightScale)
		}
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for g := range workers {
			lo, hi := k*g/workers, k*(g+1)/workers
			wg.Go(func() {
				for r := lo; r < hi && errs[g] == nil; r++ {
					errs[g] = encodeRow(buf[r*rowBytes:(r+1)*rowBytes], vals[r*n:(r+1)*n], t.typ)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for r := range k {
			if _, err := w.Write(buf[r*rowBytes : (r+1)*rowBytes]); err != nil {
				return err
			}
		}
		done += k
	}
	return nil
}

// encodeRow writes row in type typ to buf.
func encodeRow(buf []byte, row []float32, typ gguf.Type) error {
	switch typ {
	case gguf.F32:
		for j, x := range row {
			binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
		}
	case gguf.F16:
		for j, x := range row {
			binary.LittleEndian.PutUint16(buf[2*j:], gguf.Float32ToF16(x))
		}
	case gguf.Q8_0:
		return gguf.QuantizeQ8_0(buf, row)
	case gguf.Q4_K:
		return gguf.QuantizeQ4_K(buf, row)
	case gguf.Q6_K:
		return gguf.QuantizeQ6_K(buf, row)
	default:
		return fmt.Errorf("unsupported type %v", typ)
	}
	return nil
}

// progressWriter counts bytes written to w, reports them and stops when ctx
// is done.
type progressWriter struct {
	ctx      context.Context
	w        io.Writer
	done     int64
	total    int64
	progress func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.progress != nil {
		p.progress(p.done, p.total)
	}
	return n, err
}

// WriteFile writes the model to path atomically: into a temporary file in
// the same directory, synced, then renamed over path; on any error or
// cancellation of ctx the temporary file is removed and path is untouched.
// progress, if not nil, is called from the calling goroutine after every
// write (about every MiB) with the bytes written so far and the final size
// (Size(opts)); the last call has done == total. The file mode is 0644.
func WriteFile(ctx context.Context, path string, opts Options, progress func(done, total int64)) (err error) {
	total, err := Size(opts)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	pw := &progressWriter{ctx: ctx, w: f, total: total, progress: progress}
	if err := Write(pw, opts); err != nil {
		return err
	}
	if pw.done != total {
		return fmt.Errorf("synth: wrote %d bytes, planned %d", pw.done, total)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable; best effort
		d.Sync()
		d.Close()
	}
	return nil
}
