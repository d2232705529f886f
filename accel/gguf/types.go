package gguf

import (
	"fmt"
	"math"
	"math/bits"
)

// Type is a ggml tensor element type, numbered as in ggml.h (enum ggml_type).
// Every type in the table parses; which ones a model runner can execute is the
// engine's decision, not this package's.
type Type uint32

// Tensor types with their ggml ids. Ids 4, 5, 31–33 and 36–38 belonged to
// types that ggml has removed; they are rejected as unknown.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// typeTraits is the storage layout of one tensor type: blockSize elements
// are stored in blockBytes bytes.
type typeTraits struct {
	name       string
	blockSize  uint64
	blockBytes uint64
}

// QK_K = 256 is the super-block size of the k-quants and i-quants.
const qkK = 256

// traits mirrors ggml's type_traits table (block_size, type_size). Adding a
// type is one line here.
var traits = map[Type]typeTraits{
	F32:     {"f32", 1, 4},
	F16:     {"f16", 1, 2},
	Q4_0:    {"q4_0", 32, 2 + 16},
	Q4_1:    {"q4_1", 32, 2 + 2 + 16},
	Q5_0:    {"q5_0", 32, 2 + 4 + 16},
	Q5_1:    {"q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0:    {"q8_0", 32, 2 + 32},
	Q8_1:    {"q8_1", 32, 2 + 2 + 32},
	Q2_K:    {"q2_K", qkK, 16 + 64 + 2 + 2},
	Q3_K:    {"q3_K", qkK, 32 + 64 + 12 + 2},
	Q4_K:    {"q4_K", qkK, 2 + 2 + 12 + 128},
	Q5_K:    {"q5_K", qkK, 2 + 2 + 12 + 32 + 128},
	Q6_K:    {"q6_K", qkK, 128 + 64 + 16 + 2},
	Q8_K:    {"q8_K", qkK, 4 + 256 + 32},
	IQ2_XXS: {"iq2_xxs", qkK, 2 + 64},
	IQ2_XS:  {"iq2_xs", qkK, 2 + 64 + 8},
	IQ3_XXS: {"iq3_xxs", qkK, 2 + 96},
	IQ1_S:   {"iq1_s", qkK, 2 + 32 + 16},
	IQ4_NL:  {"iq4_nl", 32, 2 + 16},
	IQ3_S:   {"iq3_s", qkK, 2 + 64 + 8 + 32 + 4},
	IQ2_S:   {"iq2_s", qkK, 2 + 64 + 8 + 8},
	IQ4_XS:  {"iq4_xs", qkK, 2 + 2 + 4 + 128},
	I8:      {"i8", 1, 1},
	I16:     {"i16", 1, 2},
	I32:     {"i32", 1, 4},
	I64:     {"i64", 1, 8},
	F64:     {"f64", 1, 8},
	IQ1_M:   {"iq1_m", qkK, 32 + 16 + 8},
	BF16:    {"bf16", 1, 2},
	TQ1_0:   {"tq1_0", qkK, 48 + 4 + 2},
	TQ2_0:   {"tq2_0", qkK, 64 + 2},
	MXFP4:   {"mxfp4", 32, 1 + 16},
}

// Known reports whether t is in the type table, i.e. whether its storage
// size can be computed. Unknown types cannot be parsed.
func (t Type) Known() bool {
	_, ok := traits[t]
	return ok
}

// String returns ggml's name for the type ("f32", "q8_0", "q4_K"), or
// "type(N)" for an unknown id.
func (t Type) String() string {
	if tr, ok := traits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the number of elements in one block (1 for plain
// types, 32 for Q8_0, 256 for Q4_K), or 0 for an unknown type.
func (t Type) BlockSize() int { return int(traits[t].blockSize) }

// BlockBytes returns the number of bytes of one block (4 for F32, 34 for
// Q8_0, 144 for Q4_K), or 0 for an unknown type.
func (t Type) BlockBytes() int { return int(traits[t].blockBytes) }

// RowSize returns the number of bytes that n consecutive elements occupy.
// n must be a multiple of the block size; RowSize returns an error
// otherwise, for an unknown type, or when the size overflows an int.
func (t Type) RowSize(n int) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("gguf: %v row of %d elements", t, n)
	}
	s, err := t.size(uint64(n))
	if err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	if s > math.MaxInt {
		return 0, fmt.Errorf("gguf: %v row of %d elements: %d bytes overflow int", t, n, s)
	}
	return int(s), nil
}

// size returns the byte size of n elements of type t. Its errors carry no
// package prefix; callers add context.
func (t Type) size(n uint64) (uint64, error) {
	tr, ok := traits[t]
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if n%tr.blockSize != 0 {
		return 0, fmt.Errorf("%d elements is not a multiple of the %v block size %d", n, t, tr.blockSize)
	}
	hi, lo := bits.Mul64(n/tr.blockSize, tr.blockBytes)
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("%d elements of %v overflow", n, t)
	}
	return lo, nil
}

// TensorSize returns the number of bytes of a tensor of type t with the
// given dimensions (dims[0] is the contiguous dimension and must be a
// multiple of the block size). It fails on overflow of int64.
func (t Type) TensorSize(dims []uint64) (uint64, error) {
	n, err := t.tensorSize(dims)
	if err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	return n, nil
}

func (t Type) tensorSize(dims []uint64) (uint64, error) {
	if len(dims) == 0 {
		return 0, fmt.Errorf("tensor has no dimensions")
	}
	row, err := t.size(dims[0])
	if err != nil {
		return 0, err
	}
	// The element count must fit in int64 (ggml's int64_t ne[]).
	elems := dims[0]
	total := row
	for _, d := range dims[1:] {
		hi, lo := bits.Mul64(elems, d)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("element count of dims %v overflows", dims)
		}
		elems = lo
		hi, lo = bits.Mul64(total, d)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("byte size of dims %v overflows", dims)
		}
		total = lo
	}
	if dims[0] > math.MaxInt64 {
		return 0, fmt.Errorf("dimension %d overflows int64", dims[0])
	}
	return total, nil
}
