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
	if len(src)%Q8_0BlockSize != 0 {
		return fmt.Errorf("gguf: q8_0: %d elements is not a multiple of %d", len(src), Q8_0BlockSize)
	}
	nb := len(src) / Q8_0BlockSize
	if len(dst) < nb*Q8_0BlockBytes {
		return fmt.Errorf("gguf: q8_0: dst has %d bytes, need %d", len(dst), nb*Q8_0BlockBytes)
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
	if len(src)%Q8_0BlockBytes != 0 {
		return fmt.Errorf("gguf: q8_0: %d bytes is not a multiple of %d", len(src), Q8_0BlockBytes)
	}
	nb := len(src) / Q8_0BlockBytes
	if len(dst) < nb*Q8_0BlockSize {
		return fmt.Errorf("gguf: q8_0: dst has %d values, need %d", len(dst), nb*Q8_0BlockSize)
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
