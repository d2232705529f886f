package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Q8_0 block layout: an f16 scale d followed by 32 int8 quants; element j of
// a block is d × qs[j].
const (
	// Q8_0BlockSize is the number of elements in a Q8_0 block.
	Q8_0BlockSize = 32
	// Q8_0BlockBytes is the encoded size of a Q8_0 block.
	Q8_0BlockBytes = 2 + Q8_0BlockSize
)

// QuantizeQ8_0 quantizes src into Q8_0 blocks in dst, as ggml's reference
// quantize_row_q8_0_ref: per block d = max|x|/127 (stored as f16) and
// q = round(x × (1/d)) with halves rounded away from zero, using the
// float32 d, not its f16 rounding. len(src) must be a multiple of 32 and dst
// must hold len(src)/32 × 34 bytes. Inputs must be finite. This is the
// scalar reference that fast kernels are tested against.
func QuantizeQ8_0(dst []byte, src []float32) error {
	nb, err := quantBlocks(Q8_0, len(src), len(dst))
	if err != nil {
		return err
	}
	for i := range nb {
		x := src[i*Q8_0BlockSize : (i+1)*Q8_0BlockSize]
		y := dst[i*Q8_0BlockBytes : (i+1)*Q8_0BlockBytes]
		var amax float32
		for _, v := range x {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y, Float32ToF16(d))
		for j, v := range x {
			y[2+j] = byte(int8(math.Round(float64(v * id))))
		}
	}
	return nil
}

// DequantizeQ8_0 expands Q8_0 blocks from src into dst: dst[j] = d × q[j].
// len(src) must be a multiple of 34 and dst must hold len(src)/34 × 32
// values.
func DequantizeQ8_0(dst []float32, src []byte) error {
	nb, err := dequantBlocks(Q8_0, len(src), len(dst))
	if err != nil {
		return err
	}
	for i := range nb {
		y := src[i*Q8_0BlockBytes : (i+1)*Q8_0BlockBytes]
		d := F16ToFloat32(binary.LittleEndian.Uint16(y))
		out := dst[i*Q8_0BlockSize : (i+1)*Q8_0BlockSize]
		for j := range out {
			out[j] = d * float32(int8(y[2+j]))
		}
	}
	return nil
}

// quantBlocks checks the sizes of a quantization of n values into dst
// bytes of type t and returns the number of blocks.
func quantBlocks(t Type, n, dst int) (int, error) {
	bs, bb := t.BlockSize(), t.BlockBytes()
	if n%bs != 0 {
		return 0, fmt.Errorf("gguf: %v: %d elements is not a multiple of %d", t, n, bs)
	}
	if nb := n / bs; dst < nb*bb {
		return 0, fmt.Errorf("gguf: %v: dst has %d bytes, need %d", t, dst, nb*bb)
	}
	return n / bs, nil
}

// dequantBlocks checks the sizes of a dequantization of src bytes of type
// t into dst values and returns the number of blocks.
func dequantBlocks(t Type, src, dst int) (int, error) {
	bs, bb := t.BlockSize(), t.BlockBytes()
	if src%bb != 0 {
		return 0, fmt.Errorf("gguf: %v: %d bytes is not a multiple of %d", t, src, bb)
	}
	if nb := src / bb; dst < nb*bs {
		return 0, fmt.Errorf("gguf: %v: dst has %d values, need %d", t, dst, nb*bs)
	}
	return src / bb, nil
}
