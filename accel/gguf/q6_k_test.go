package gguf

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// q6kWant is weight i of a Q6_K block evaluated straight from the byte
// layout (ggml's loop order: halves of 128, quarters of 32).
func q6kWant(blk []byte, i int) float32 {
	h, k, l := i/128, i%128/32, i%32
	ql := blk[64*h+32*(k%2)+l] >> (4 * uint(k/2)) & 15
	qh := blk[128+32*h+l] >> (2 * uint(k)) & 3
	q := int(ql) | int(qh)<<4
	d := F16ToFloat32(uint16(blk[208]) | uint16(blk[209])<<8)
	sc := int8(blk[192+8*h+2*k+l/16])
	return float32(d*float32(sc)) * float32(q-32)
}

// TestQ6_KKnown dequantizes a hand-made block: d = 0.5, sub-block j's
// scale is j−8 (both signs), and weight i's quant is i mod 64, written
// into ql and qh by the layout's description.
func TestQ6_KKnown(t *testing.T) {
	blk := make([]byte, Q6_KBlockBytes)
	binary.LittleEndian.PutUint16(blk[208:], 0x3800) // 0.5
	for j := range 16 {
		blk[192+j] = byte(int8(j - 8))
	}
	for i := range Q6_KBlockSize {
		q := byte(i % 64)
		h, r := i/128, i%128
		k, l := r/32, r%32
		if k < 2 {
			blk[64*h+32*k+l] |= q & 15
		} else {
			blk[64*h+32*(k-2)+l] |= (q & 15) << 4
		}
		blk[128+32*h+l] |= (q >> 4) << (2 * k)
	}
	out := make([]float32, Q6_KBlockSize)
	if err := DequantizeQ6_K(out, blk); err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		j := i / 16
		want := 0.5 * float32(j-8) * float32(i%64-32)
		if v != want || v != q6kWant(blk, i) {
			t.Fatalf("weight %d (sub-block %d): %v, want %v", i, j, v, want)
		}
	}
	var q [16]int8
	for j := range 16 {
		Q6_KQuants(blk, j, &q)
		for l, v := range q {
			if i := 16*j + l; int(v) != i%64-32 {
				t.Fatalf("Q6_KQuants sub-block %d weight %d: %d, want %d", j, l, v, i%64-32)
			}
		}
		if s := Q6_KStep(blk, j); s != 0.5*float32(j-8) {
			t.Fatalf("Q6_KStep(%d) = %v", j, s)
		}
	}
}

// TestQ6_KError: normal weights (the synthesized models' distribution)
// round-trip with a relative RMS error of about 2% (6-bit quants), every
// weight inside its sub-block's range is within half a step (plus float
// rounding), all-zero blocks stay zero, and the search does at least as
// well as the plain max-magnitude fit with unquantized steps.
func TestQ6_KError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 64 * Q6_KBlockSize
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.02)
	}
	src[7] = 0.3 // an outlier
	for i := 256; i < 512; i++ {
		src[i] = 0 // an all-zero block
	}
	for i := 512; i < 528; i++ {
		src[i] = -0.01 // a constant sub-block
	}
	dst := make([]byte, n/Q6_KBlockSize*Q6_KBlockBytes)
	if err := QuantizeQ6_K(dst, src); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, n)
	if err := DequantizeQ6_K(out, dst); err != nil {
		t.Fatal(err)
	}
	var se, ss float64
	for i := range src {
		e := float64(src[i] - out[i])
		se += e * e
		ss += float64(src[i]) * float64(src[i])
	}
	if rel := math.Sqrt(se / ss); rel > 0.03 {
		t.Errorf("relative RMS error %.4f", rel)
	} else {
		t.Logf("relative RMS error %.4f", rel)
	}
	for i := 256; i < 512; i++ {
		if out[i] != 0 {
			t.Fatalf("zero block weight %d: %v", i, out[i])
		}
	}
	for i := 512; i < 528; i++ {
		if math.Abs(float64(out[i]+0.01)) > 1e-4 {
			t.Fatalf("constant sub-block weight %d: %v", i, out[i])
		}
	}
	for b := range n / Q6_KBlockSize {
		blk := dst[b*Q6_KBlockBytes:]
		for j := range Q6_KSubBlocks {
			s := float64(Q6_KStep(blk, j))
			lo, hi := min(-32*s, 31*s), max(-32*s, 31*s)
			for l := range 16 {
				i := b*Q6_KBlockSize + 16*j + l
				if x := float64(src[i]); x >= lo && x <= hi {
					if e := math.Abs(x - float64(out[i])); e > math.Abs(s)/2*(1+1e-5)+1e-9 {
						t.Fatalf("weight %d: %v → %v, step %v", i, x, out[i], s)
					}
				}
			}
		}
	}
	// Max-magnitude fit with float steps (m/32 per sub-block).
	var naive float64
	for j := 0; j < n; j += 16 {
		var m float32
		for _, v := range src[j : j+16] {
			m = max(m, abs32(v))
		}
		for _, v := range src[j : j+16] {
			var q float32
			if m > 0 {
				q = max(-32, min(31, roundEven(v/(m/32))))
			}
			e := float64(v - m/32*q)
			naive += e * e
		}
	}
	if se > naive {
		t.Errorf("squared error %g, plain fit %g", se, naive)
	} else {
		t.Logf("squared error %g, plain fit %g", se, naive)
	}
}

func TestQ6_KSizes(t *testing.T) {
	if err := QuantizeQ6_K(make([]byte, 210), make([]float32, 255)); err == nil {
		t.Error("255 elements: no error")
	}
	if err := QuantizeQ6_K(make([]byte, 209), make([]float32, 256)); err == nil {
		t.Error("short dst: no error")
	}
	if err := DequantizeQ6_K(make([]float32, 256), make([]byte, 211)); err == nil {
		t.Error("211 bytes: no error")
	}
	if err := DequantizeQ6_K(make([]float32, 255), make([]byte, 210)); err == nil {
		t.Error("short dst: no error")
	}
	if Q6_K.BlockSize() != Q6_KBlockSize || Q6_K.BlockBytes() != Q6_KBlockBytes || Q6_KBlockBytes != 210 {
		t.Errorf("type table: %d/%d", Q6_K.BlockSize(), Q6_K.BlockBytes())
	}
	if n, err := Q6_K.RowSize(2048); err != nil || n != 8*210 {
		t.Errorf("RowSize(2048) = %d, %v", n, err)
	}
}

// FuzzQ6_K: any bytes dequantize without panicking, each weight equal to
// the formula evaluated bit by bit from the layout; any finite floats
// quantize, and their round trip stays near the block's values.
func FuzzQ6_K(f *testing.F) {
	f.Add(make([]byte, Q6_KBlockBytes), int64(1))
	seed := make([]byte, 2*Q6_KBlockBytes)
	for i := range seed {
		seed[i] = byte(i * 41)
	}
	f.Add(seed, int64(2))
	f.Fuzz(func(t *testing.T, data []byte, s int64) {
		data = data[:len(data)/Q6_KBlockBytes*Q6_KBlockBytes]
		out := make([]float32, len(data)/Q6_KBlockBytes*Q6_KBlockSize)
		if err := DequantizeQ6_K(out, data); err != nil {
			t.Fatal(err)
		}
		for i, v := range out {
			want := q6kWant(data[i/256*Q6_KBlockBytes:], i%256)
			if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
				t.Fatalf("weight %d: %v, want %v", i, v, want)
			}
		}
		rng := rand.New(rand.NewPCG(uint64(s), 0))
		src := make([]float32, Q6_KBlockSize)
		for i := range src {
			src[i] = float32(rng.NormFloat64()) * float32(math.Ldexp(1, int(s%40)-20))
			if i < len(data) {
				src[i] *= float32(data[i]) / 128
			}
		}
		dst := make([]byte, Q6_KBlockBytes)
		if err := QuantizeQ6_K(dst, src); err != nil {
			t.Fatal(err)
		}
		back := make([]float32, Q6_KBlockSize)
		if err := DequantizeQ6_K(back, dst); err != nil {
			t.Fatal(err)
		}
		var amax float32
		for _, v := range src {
			amax = max(amax, abs32(v))
		}
		// Each weight within a 32nd of the block's largest magnitude, plus
		// the resolution of an f16 d (2^-24 absolute below 2^-14) times a
		// scale up to 127 and a quant up to 32, and a whole step lost to
		// a scale rounded down (a sub-block's step can be one scale unit
		// too small, clamping its extreme weight).
		slack := amax/16 + 0x1p-24*127*33
		for i, v := range back {
			if !(abs32(v-src[i]) <= slack) {
				t.Fatalf("weight %d: %v → %v (max |x| %v)", i, src[i], v, amax)
			}
		}
	})
}

func BenchmarkQuantizeQ6_K(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	src := make([]float32, 2048)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.02)
	}
	dst := make([]byte, 8*Q6_KBlockBytes)
	b.SetBytes(4 * 2048)
	for b.Loop() {
		if err := QuantizeQ6_K(dst, src); err != nil {
			b.Fatal(err)
		}
	}
}
