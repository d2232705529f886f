package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestQ4_KScalePacking(t *testing.T) {
	for j := range Q4_KSubBlocks {
		for sc := range uint8(64) {
			for _, m := range []uint8{0, 1, 15, 16, 37, 63, 63 - sc} {
				var b [12]byte
				// other sub-blocks' bits set around it must survive
				for k := range Q4_KSubBlocks {
					if k != j {
						putQ4KScaleMin(b[:], k, 63, 42)
					}
				}
				putQ4KScaleMin(b[:], j, sc, m)
				if gs, gm := Q4_KScaleMin(b[:], j); gs != sc || gm != m {
					t.Fatalf("sub-block %d: put (%d, %d), got (%d, %d)", j, sc, m, gs, gm)
				}
				for k := range Q4_KSubBlocks {
					if gs, gm := Q4_KScaleMin(b[:], k); k != j && (gs != 63 || gm != 42) {
						t.Fatalf("sub-block %d clobbered by %d: (%d, %d)", k, j, gs, gm)
					}
				}
			}
		}
	}
}

// TestQ4_KKnown dequantizes a hand-made block: d = 0.5, dmin = 0.25,
// sub-block j has scale j+1 (j+33 for j ≥ 4, so the top bits are used)
// and min 2j (2j+40 for j ≥ 4); weight i's quant is i mod 16.
func TestQ4_KKnown(t *testing.T) {
	blk := make([]byte, Q4_KBlockBytes)
	binary.LittleEndian.PutUint16(blk, 0x3800)     // 0.5
	binary.LittleEndian.PutUint16(blk[2:], 0x3400) // 0.25
	sc := func(j int) int {
		if j < 4 {
			return j + 1
		}
		return j + 33
	}
	mn := func(j int) int {
		if j < 4 {
			return 2 * j
		}
		return 2*j + 40
	}
	// Bytes by hand: sub-blocks 0-3 whole in bytes 0-7; 4-7 split.
	for j := range 4 {
		blk[4+j] = byte(sc(j)) | byte(sc(j+4)>>4)<<6
		blk[4+j+4] = byte(mn(j)) | byte(mn(j+4)>>4)<<6
		blk[4+j+8] = byte(sc(j+4)&15) | byte(mn(j+4)&15)<<4
	}
	for i := range Q4_KBlockSize {
		g, l, hi := i/64, i%32, i%64 >= 32
		q := byte(i % 16)
		if hi {
			blk[16+32*g+l] |= q << 4
		} else {
			blk[16+32*g+l] |= q
		}
	}
	out := make([]float32, Q4_KBlockSize)
	if err := DequantizeQ4_K(out, blk); err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		j := i / 32
		want := 0.5*float32(sc(j))*float32(i%16) - 0.25*float32(mn(j))
		if v != want {
			t.Fatalf("weight %d (sub-block %d): %v, want %v", i, j, v, want)
		}
	}
}

// TestQ4_KError: normal weights (the synthesized models' distribution)
// round-trip with a small relative RMS error, every weight inside its
// sub-block's range is within half a step (plus the f16 rounding of the
// scales), and the search does at least as well as the plain min–max fit.
func TestQ4_KError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 64 * Q4_KBlockSize
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.02)
	}
	src[7] = 0.3 // an outlier
	for i := 256; i < 512; i++ {
		src[i] = 0 // an all-zero block
	}
	for i := 512; i < 544; i++ {
		src[i] = 0.01 // a constant, positive sub-block
	}
	dst := make([]byte, n/Q4_KBlockSize*Q4_KBlockBytes)
	if err := QuantizeQ4_K(dst, src); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, n)
	if err := DequantizeQ4_K(out, dst); err != nil {
		t.Fatal(err)
	}
	var se, ss float64
	for i := range src {
		e := float64(src[i] - out[i])
		se += e * e
		ss += float64(src[i]) * float64(src[i])
	}
	if rel := math.Sqrt(se / ss); rel > 0.1 {
		t.Errorf("relative RMS error %.4f", rel)
	} else {
		t.Logf("relative RMS error %.4f", rel)
	}
	for i := 256; i < 512; i++ {
		if out[i] != 0 {
			t.Fatalf("zero block weight %d: %v", i, out[i])
		}
	}
	for b := range n / Q4_KBlockSize {
		blk := dst[b*Q4_KBlockBytes:]
		for j := range Q4_KSubBlocks {
			ds, dm := Q4_KSubBlock(blk, j)
			for l := range 32 {
				i := b*Q4_KBlockSize + 32*j + l
				if x := src[i]; ds > 0 && x >= -dm && x <= 15*ds-dm {
					if e := math.Abs(float64(x - out[i])); e > float64(ds)/2*(1+1e-5)+1e-9 {
						t.Fatalf("weight %d: %v → %v, step %v", i, x, out[i], ds)
					}
				}
			}
		}
	}
	// Plain min–max fit of each sub-block, unquantized scales: the
	// search (with 6-bit scales) should not be much worse.
	var naive float64
	for j := 0; j < n; j += 32 {
		lo, hi := float32(0), src[j]
		for _, v := range src[j : j+32] {
			lo, hi = min(lo, v), max(hi, v)
		}
		s := (hi - lo) / 15
		for _, v := range src[j : j+32] {
			q := float32(0)
			if s > 0 {
				q = roundEven((v - lo) / s)
			}
			e := float64(v - (s*q + lo))
			naive += e * e
		}
	}
	if se > 1.05*naive {
		t.Errorf("squared error %g, plain min–max fit %g", se, naive)
	}
}

func TestQ4_KSizes(t *testing.T) {
	if err := QuantizeQ4_K(make([]byte, 144), make([]float32, 255)); err == nil {
		t.Error("255 elements: no error")
	}
	if err := QuantizeQ4_K(make([]byte, 143), make([]float32, 256)); err == nil {
		t.Error("short dst: no error")
	}
	if err := DequantizeQ4_K(make([]float32, 256), make([]byte, 145)); err == nil {
		t.Error("145 bytes: no error")
	}
	if err := DequantizeQ4_K(make([]float32, 255), make([]byte, 144)); err == nil {
		t.Error("short dst: no error")
	}
	if Q4_K.BlockSize() != Q4_KBlockSize || Q4_K.BlockBytes() != Q4_KBlockBytes {
		t.Errorf("type table: %d/%d", Q4_K.BlockSize(), Q4_K.BlockBytes())
	}
	if n, err := Q4_K.RowSize(2048); err != nil || n != 8*144 {
		t.Errorf("RowSize(2048) = %d, %v", n, err)
	}
	if _, err := Q4_K.RowSize(2048 + 32); err == nil {
		t.Error("RowSize(2080): no error")
	}
}

// FuzzQ4_K: any bytes dequantize without panicking, each weight equal to
// the formula evaluated bit by bit from the block; any finite floats
// quantize, and their round trip stays within the block's range (give or
// take the f16 scales' resolution).
func FuzzQ4_K(f *testing.F) {
	f.Add(make([]byte, Q4_KBlockBytes), int64(1))
	seed := make([]byte, 2*Q4_KBlockBytes)
	for i := range seed {
		seed[i] = byte(i * 37)
	}
	f.Add(seed, int64(2))
	f.Fuzz(func(t *testing.T, data []byte, s int64) {
		data = data[:len(data)/Q4_KBlockBytes*Q4_KBlockBytes]
		out := make([]float32, len(data)/Q4_KBlockBytes*Q4_KBlockSize)
		if err := DequantizeQ4_K(out, data); err != nil {
			t.Fatal(err)
		}
		for i, v := range out {
			blk := data[i/256*Q4_KBlockBytes:]
			k, j := i%256, i%256/32
			// bit positions straight from the layout
			var sc, m uint
			if j < 4 {
				sc, m = uint(blk[4+j])&63, uint(blk[8+j])&63
			} else {
				sc = uint(blk[12+j-4])&15 + uint(blk[4+j-4]>>6)*16
				m = uint(blk[12+j-4])>>4 + uint(blk[4+j]>>6)*16
			}
			q := uint(blk[16+k/64*32+k%32]) >> (4 * uint(k%64/32)) & 15
			d := F16ToFloat32(uint16(blk[0]) | uint16(blk[1])<<8)
			dmin := F16ToFloat32(uint16(blk[2]) | uint16(blk[3])<<8)
			want := float32(d*float32(sc)*float32(q)) - dmin*float32(m)
			if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
				t.Fatalf("weight %d: %v, want %v", i, v, want)
			}
		}
		// Quantize: finite values built from the bytes.
		rng := rand.New(rand.NewPCG(uint64(s), 0))
		src := make([]float32, Q4_KBlockSize)
		for i := range src {
			src[i] = float32(rng.NormFloat64()) * float32(math.Ldexp(1, int(s%40)-20))
			if i < len(data) {
				src[i] *= float32(data[i]) / 128
			}
		}
		dst := make([]byte, Q4_KBlockBytes)
		if err := QuantizeQ4_K(dst, src); err != nil {
			t.Fatal(err)
		}
		back := make([]float32, Q4_KBlockSize)
		if err := DequantizeQ4_K(back, dst); err != nil {
			t.Fatal(err)
		}
		lo, hi := float32(0), float32(0)
		for _, v := range src {
			lo, hi = min(lo, v), max(hi, v)
		}
		// d and dmin are f16: below 2^-14 their steps are 2^-24
		// absolute, times a 6-bit scale and a 4-bit quant.
		slack := 0.1*(hi-lo) + 0x1p-24*63*16
		for i, v := range back {
			if !(v >= lo-slack && v <= hi+slack) {
				t.Fatalf("weight %d: %v → %v outside [%v, %v]", i, src[i], v, lo, hi)
			}
		}
	})
}

func BenchmarkQuantizeQ4_K(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	src := make([]float32, 2048)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.02)
	}
	dst := make([]byte, 8*Q4_KBlockBytes)
	b.SetBytes(4 * 2048)
	for b.Loop() {
		if err := QuantizeQ4_K(dst, src); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQ4_KMatchesGGML: 4096 super-blocks of normal weights (every
// thousandth ten times larger) quantize to the bytes that ggml's
// quantize_row_q4_K_ref writes, and those dequantize to the values of
// ggml's dequantize_row_q4_K, bit for bit. The digests were taken with
// a small C program calling libggml-base.so from npm
// @node-llama-cpp/linux-x64 3.21.1 (llama.cpp release v0.4.0, commit
// 80fb11a) on the same input; ggml_validate_row_data accepted the
// blocks.
func TestQ4_KMatchesGGML(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 4096 * Q4_KBlockSize
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.02)
		if i%1000 == 0 {
			src[i] *= 10
		}
	}
	digest := func(v []float32) string {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return fmt.Sprintf("%x", sha256.Sum256(b))
	}
	if d := digest(src); d != "82ba000f50d37966eb7fe9051030b3aeea97e113b07f6ba737f7d872b6e27ad5" {
		t.Fatalf("input digest %s: the generator changed", d)
	}
	q := make([]byte, n/Q4_KBlockSize*Q4_KBlockBytes)
	if err := QuantizeQ4_K(q, src); err != nil {
		t.Fatal(err)
	}
	if d := fmt.Sprintf("%x", sha256.Sum256(q)); d != "46b6cac0acba94c5cb7c5a34788fed5d3274b2329c1d5d68f10bb525b57fe6d9" {
		t.Errorf("quantized digest %s, ggml's 46b6cac0…", d)
	}
	out := make([]float32, n)
	if err := DequantizeQ4_K(out, q); err != nil {
		t.Fatal(err)
	}
	if d := digest(out); d != "e9d4d1d8342c53399a6de2a9a72847c2d0bfca452247fe1f4919dcfa22aa4d16" {
		t.Errorf("dequantized digest %s, ggml's e9d4d1d8…", d)
	}
}
