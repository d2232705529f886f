package synth

import (
	"errors"
	"fmt"
	"slices"

	"github.com/outpost-iot/outpost/accel/gguf"
)

// Shape is the set of llama hyperparameters that a synthesized model has.
// Matrix rows have NEmbd or NFF elements, so both must be multiples of the
// Q8_0 block size (32).
type Shape struct {
	// Name identifies the shape (--shape on the command line) and becomes
	// general.name in the file.
	Name string
	// VocabSize is the number of tokens (llama.vocab_size); at least
	// MinVocabSize.
	VocabSize int
	// NEmbd is the embedding width (llama.embedding_length).
	NEmbd int
	// NFF is the feed-forward width (llama.feed_forward_length).
	NFF int
	// NLayer is the number of transformer blocks (llama.block_count).
	NLayer int
	// NHead is the number of attention heads (llama.attention.head_count).
	NHead int
	// NHeadKV is the number of key/value heads for grouped-query attention
	// (llama.attention.head_count_kv); it divides NHead.
	NHeadKV int
	// ContextLength is the trained context in tokens (llama.context_length).
	ContextLength int
	// RopeTheta is the RoPE frequency base (llama.rope.freq_base).
	RopeTheta float32
	// RMSEps is the RMS norm epsilon (llama.attention.layer_norm_rms_epsilon).
	RMSEps float32
	// TiedEmbeddings omits output.weight: the output projection reuses
	// token_embd.weight, as llama.cpp does when output.weight is absent.
	TiedEmbeddings bool
}

// HeadDim returns the width of one attention head, NEmbd/NHead; it is also
// the RoPE dimension count.
func (s Shape) HeadDim() int { return s.NEmbd / s.NHead }

// NEmbdKV returns the width of the key and value projections,
// HeadDim × NHeadKV.
func (s Shape) NEmbdKV() int { return s.HeadDim() * s.NHeadKV }

// Validate reports whether the shape is one that llama.cpp can load and
// that Q8_0 can quantize.
func (s Shape) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" {
		bad("no name")
	}
	if s.VocabSize < MinVocabSize {
		bad("vocab size %d is below the minimum %d", s.VocabSize, MinVocabSize)
	}
	if s.NLayer <= 0 || s.NHead <= 0 || s.NHeadKV <= 0 || s.ContextLength <= 0 {
		bad("layers, heads, KV heads and context length must be positive")
	} else {
		if s.NEmbd%s.NHead != 0 {
			bad("n_embd %d is not a multiple of %d heads", s.NEmbd, s.NHead)
		} else if s.HeadDim()%2 != 0 {
			bad("head dimension %d is odd (RoPE rotates pairs)", s.HeadDim())
		}
		if s.NHead%s.NHeadKV != 0 {
			bad("%d heads are not a multiple of %d KV heads", s.NHead, s.NHeadKV)
		}
	}
	if s.NEmbd <= 0 || s.NEmbd%gguf.Q8_0BlockSize != 0 {
		bad("n_embd %d is not a positive multiple of %d", s.NEmbd, gguf.Q8_0BlockSize)
	}
	if s.NFF <= 0 || s.NFF%gguf.Q8_0BlockSize != 0 {
		bad("n_ff %d is not a positive multiple of %d", s.NFF, gguf.Q8_0BlockSize)
	}
	if !(s.RopeTheta > 0) || !(s.RMSEps > 0) {
		bad("rope theta and rms epsilon must be positive")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synth: shape %q: %w", s.Name, err)
	}
	return nil
}

var shapes = []Shape{
	{
		// A few hundred KB at q8_0: fast enough for every unit test.
		Name: "tiny", VocabSize: 1024, NEmbd: 128, NFF: 352, NLayer: 2,
		NHead: 4, NHeadKV: 2, ContextLength: 512, RopeTheta: 10000, RMSEps: 1e-5,
	},
	{
		// TinyLlama-1.1B (TinyLlama/TinyLlama-1.1B-Chat-v1.0 config.json).
		Name: "tinyllama-1.1b", VocabSize: 32000, NEmbd: 2048, NFF: 5632, NLayer: 22,
		NHead: 32, NHeadKV: 4, ContextLength: 2048, RopeTheta: 10000, RMSEps: 1e-5,
	},
}

// Shapes returns the built-in shapes, smallest first. The slice is a copy.
func Shapes() []Shape { return slices.Clone(shapes) }

// ErrUnknownShape is returned (wrapped) by LookupShape for a name that is
// not a built-in shape.
var ErrUnknownShape = errors.New("unknown shape")

// LookupShape returns the built-in shape with the given name.
func LookupShape(name string) (Shape, error) {
	for _, s := range shapes {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(shapes))
	for i, s := range shapes {
		names[i] = s.Name
	}
	return Shape{}, fmt.Errorf("synth: %w %q (have %v)", ErrUnknownShape, name, names)
}
