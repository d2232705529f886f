package llama

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/outpost-iot/outpost/accel/gguf"
)

// Tensor is a 1-D or 2-D weight held as a view into a GGUF file's data:
// Rows rows of Cols contiguous values of type Type.
type Tensor struct {
	// Name is the GGUF tensor name.
	Name string
	// Type is the element type: gguf.F32, gguf.F16, gguf.Q8_0,
	// gguf.Q4_K or gguf.Q6_K.
	Type gguf.Type
	// Cols is the row length (GGUF dims[0]); Rows is dims[1], or 1.
	Cols, Rows int
	// Data holds Rows × RowBytes() bytes, aliasing the file.
	Data []byte
}

// supported reports whether the reference kernels handle t.
func supported(t gguf.Type) bool {
	return t == gguf.F32 || t == gguf.F16 || t == gguf.Q8_0 || t == gguf.Q4_K || t == gguf.Q6_K
}

// RowBytes returns the encoded size of one row.
func (t Tensor) RowBytes() int {
	switch t.Type {
	case gguf.F32:
		return 4 * t.Cols
	case gguf.F16:
		return 2 * t.Cols
	case gguf.Q8_0:
		return t.Cols / gguf.Q8_0BlockSize * gguf.Q8_0BlockBytes
	case gguf.Q4_K:
		return t.Cols / gguf.Q4_KBlockSize * gguf.Q4_KBlockBytes
	case gguf.Q6_K:
		return t.Cols / gguf.Q6_KBlockSize * gguf.Q6_KBlockBytes
	}
	panic(fmt.Sprintf("llama: unsupported tensor type %v", t.Type))
}

func (t Tensor) row(r int) []byte {
	n := t.RowBytes()
	return t.Data[r*n : (r+1)*n]
}

// Row dequantizes row r into dst, which must hold Cols values.
func (t Tensor) Row(dst []float32, r int) {
	b := t.row(r)
	dst = dst[:t.Cols]
	switch t.Type {
	case gguf.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case gguf.F16:
		for i := range dst {
			dst[i] = gguf.F16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case gguf.Q8_0:
		if err := gguf.DequantizeQ8_0(dst, b); err != nil {
			panic(err)
		}
	case gguf.Q4_K:
		if err := gguf.DequantizeQ4_K(dst, b); err != nil {
			panic(err)
		}
	case gguf.Q6_K:
		if err := gguf.DequantizeQ6_K(dst, b); err != nil {
			panic(err)
		}
	default:
		panic(fmt.Sprintf("llama: unsupported tensor type %v", t.Type))
	}
}

// dotRow returns dot(row r of w, x), accumulated in float64. A Q4_K or
// Q6_K row is dequantized to float32 weights first (as ggml computes
// them), one super-block at a time, then multiplied in index order.
func dotRow(w Tensor, r int, x []float32) float32 {
	b := w.row(r)
	var s float64
	switch w.Type {
	case gguf.Q4_K, gguf.Q6_K:
		dequant, bb := gguf.DequantizeQ4_K, gguf.Q4_KBlockBytes
		if w.Type == gguf.Q6_K {
			dequant, bb = gguf.DequantizeQ6_K, gguf.Q6_KBlockBytes
		}
		var blk [256]float32 // both super-blocks are 256 weights
		for off := 0; off < len(b); off += bb {
			if err := dequant(blk[:], b[off:off+bb]); err != nil {
				panic(err)
			}
			xs := x[off/bb*len(blk):][:len(blk)]
			for i, v := range blk {
				s += float64(v) * float64(xs[i])
			}
		}
	case gguf.F32:
		for i, xv := range x[:w.Cols] {
			s += float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))) * float64(xv)
		}
	case gguf.F16:
		for i, xv := range x[:w.Cols] {
			s += float64(gguf.F16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))) * float64(xv)
		}
	case gguf.Q8_0:
		for blk := 0; blk < w.Cols/gguf.Q8_0BlockSize; blk++ {
			q := b[blk*gguf.Q8_0BlockBytes:]
			d := float64(gguf.F16ToFloat32(binary.LittleEndian.Uint16(q)))
			xs := x[blk*gguf.Q8_0BlockSize : (blk+1)*gguf.Q8_0BlockSize]
			var bs float64
			for j, xv := range xs {
				bs += float64(int8(q[2+j])) * float64(xv)
			}
			s += d * bs
		}
	default:
		panic(fmt.Sprintf("llama: unsupported tensor type %v", w.Type))
	}
	return float32(s)
}

// matVec computes out[r] = dot(row r of w, x) for every row of w.
// len(out) must be w.Rows and len(x) at least w.Cols.
func matVec(out []float32, w Tensor, x []float32) {
	if len(out) != w.Rows || len(x) < w.Cols {
		panic(fmt.Sprintf("llama: matVec %s: out %d, x %d for %d×%d", w.Name, len(out), len(x), w.Rows, w.Cols))
	}
	for r := range out {
		out[r] = dotRow(w, r, x)
	}
}
