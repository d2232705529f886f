package gguf

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func TestQ8_0Known(t *testing.T) {
	// amax = 15.875 = 127/8, so d = 0.125 exactly (f16 0x3000) and 1/d = 8.
	src := make([]float32, 32)
	src[0] = -15.875 // -127
	src[1] = 0.0625  // 0.5 rounds away from zero: 1
	src[2] = -0.0625 // -1
	src[3] = 0.1875  // 1.5: 2
	src[4] = 1       // 8
	src[5] = 0.03    // 0.24: 0
	src[6] = 15.875  // 127
	src[7] = -0.3125 // -2.5: -3
	want := []int8{-127, 1, -1, 2, 8, 0, 127, -3}
	dst := make([]byte, Q8_0BlockBytes)
	if err := QuantizeQ8_0(dst, src); err != nil {
		t.Fatal(err)
	}
	if d := binary.LittleEndian.Uint16(dst); d != 0x3000 {
		t.Errorf("scale = %#04x, want 0x3000", d)
	}
	for j, q := range want {
		if int8(dst[2+j]) != q {
			t.Errorf("q[%d] = %d, want %d", j, int8(dst[2+j]), q)
		}
	}
	for j := len(want); j < 32; j++ {
		if dst[2+j] != 0 {
			t.Errorf("q[%d] = %d, want 0", j, int8(dst[2+j]))
		}
	}
	out := make([]float32, 32)
	if err := DequantizeQ8_0(out, dst); err != nil {
		t.Fatal(err)
	}
	for j, q := range want {
		if out[j] != float32(q)*0.125 {
			t.Errorf("dequant[%d] = %g, want %g", j, out[j], float32(q)*0.125)
		}
	}

	// An all-zero block has scale 0 and zero quants.
	zero := make([]byte, Q8_0BlockBytes)
	zero[5] = 9
	if err := QuantizeQ8_0(zero, make([]float32, 32)); err != nil {
		t.Fatal(err)
	}
	for i, b := range zero {
		if b != 0 {
			t.Fatalf("zero block byte %d = %d", i, b)
		}
	}

	// 1..32 scaled: amax 32, d = 32/127 (f16 0x3408 = 0.251953125).
	for j := range src {
		src[j] = float32(j + 1)
	}
	if err := QuantizeQ8_0(dst, src); err != nil {
		t.Fatal(err)
	}
	if d := binary.LittleEndian.Uint16(dst); d != Float32ToF16(32.0/127) || d != 0x3408 {
		t.Errorf("scale = %#04x, want 0x3408", d)
	}
	// q = round(x * 127/32): x=1 -> 3.97 -> 4; x=16 -> 63.5 -> 64 (float32 rounding of 127/32*16 is exact 63.5); x=32 -> 127.
	for _, c := range []struct{ j, q int }{{0, 4}, {15, 64}, {31, 127}} {
		if got := int8(dst[2+c.j]); int(got) != c.q {
			t.Errorf("x=%d: q = %d, want %d", c.j+1, got, c.q)
		}
	}
}

// TestQ8_0Error checks the round-trip error bound: |x - deq(q(x))| <= d/2
// plus the f16 rounding of d.
func TestQ8_0Error(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 32*64)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 0.02)
	}
	q := make([]byte, 64*Q8_0BlockBytes)
	if err := QuantizeQ8_0(q, src); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(src))
	if err := DequantizeQ8_0(out, q); err != nil {
		t.Fatal(err)
	}
	for b := range 64 {
		var amax float64
		for _, v := range src[b*32 : (b+1)*32] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		d := amax / 127
		for j := b * 32; j < (b+1)*32; j++ {
			if e := math.Abs(float64(src[j] - out[j])); e > d/2+amax*1e-3 {
				t.Fatalf("element %d: error %g > %g", j, e, d/2)
			}
		}
	}
}

func TestQ8_0Sizes(t *testing.T) {
	if err := QuantizeQ8_0(make([]byte, 34), make([]float32, 31)); err == nil {
		t.Error("31 elements: no error")
	}
	if err := QuantizeQ8_0(make([]byte, 33), make([]float32, 32)); err == nil {
		t.Error("short dst: no error")
	}
	if err := DequantizeQ8_0(make([]float32, 32), make([]byte, 35)); err == nil {
		t.Error("35 bytes: no error")
	}
	if err := DequantizeQ8_0(make([]float32, 31), make([]byte, 34)); err == nil {
		t.Error("short dst: no error")
	}
}
