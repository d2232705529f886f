package gguf

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestF16Known(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{0.1, 0x2e66},
		{1.0 / 3, 0x3555},
		{65504, 0x7bff}, // largest half
		{65519, 0x7bff}, // below the midpoint to 65536
		{65520, 0x7c00}, // midpoint ties to even: Inf
		{1e10, 0x7c00},  // overflow
		{-1e10, 0xfc00}, // overflow
		{float32(math.Inf(1)), 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{float32(math.NaN()), 0x7e00},
		{0x1p-14, 0x0400},   // smallest normal
		{0x1p-24, 0x0001},   // smallest subnormal
		{0x1p-25, 0x0000},   // half of it ties to even: 0
		{0x1.8p-25, 0x0001}, // above the midpoint
		{0x1.8p-24, 0x0002}, // 1.5 subnormal ulps: tie to even 2
		{0x1p-26, 0x0000},   // far below
		{-0x1p-24, 0x8001},
		{0x1.ffcp-15, 0x0400},           // largest subnormal + 1/2 ulp rounds to the smallest normal
		{1 + 0x1p-11, 0x3c00},           // tie, even mantissa stays
		{1 + 3*0x1p-11, 0x3c02},         // tie, odd mantissa rounds up
		{1 + 0x1p-11 + 0x1p-20, 0x3c01}, // just above the tie
		{2047.5, 0x6800},                // tie between 0x67ff (odd) and 0x6800: even wins
	}
	for _, c := range cases {
		if got := Float32ToF16(c.f); got != c.h {
			t.Errorf("Float32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if f := F16ToFloat32(0x7bff); f != 65504 {
		t.Errorf("0x7bff = %g", f)
	}
	if f := F16ToFloat32(0x0001); f != 0x1p-24 {
		t.Errorf("0x0001 = %g", f)
	}
	if f := F16ToFloat32(0x83ff); f != -0x1.ff8p-15 {
		t.Errorf("0x83ff = %g", f)
	}
	if f := F16ToFloat32(0x7e01); !math.IsNaN(float64(f)) {
		t.Errorf("0x7e01 = %g", f)
	}
	if f := F16ToFloat32(0xfc00); !math.IsInf(float64(f), -1) {
		t.Errorf("0xfc00 = %g", f)
	}
}

// TestF16AllHalves checks that every half converts to float32 and back
// unchanged (NaNs become the canonical quiet NaN).
func TestF16AllHalves(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToFloat32(uint16(h))
		want := uint16(h)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			want = uint16(h&0x8000) | 0x7e00
		}
		if got := Float32ToF16(f); got != want {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, got)
		}
	}
}

// TestF16Rounding compares Float32ToF16 with a brute-force nearest-value
// search (ties to even) over the table of all halves.
func TestF16Rounding(t *testing.T) {
	// vals[h] for h in 0..0x7c00; 0x7c00 (Inf) counts as 65536 for rounding.
	vals := make([]float64, 0x7c01)
	for h := range vals {
		vals[h] = float64(F16ToFloat32(uint16(h)))
	}
	vals[0x7c00] = 65536
	ref := func(f float32) uint16 {
		a := math.Abs(float64(f))
		sign := uint16(0)
		if math.Signbit(float64(f)) {
			sign = 0x8000
		}
		if a >= 65536 {
			return sign | 0x7c00
		}
		i := sort.SearchFloat64s(vals, a) // first vals[i] >= a
		if vals[i] == a {
			return sign | uint16(i)
		}
		lo, hi := i-1, i
		dl, dh := a-vals[lo], vals[hi]-a
		switch {
		case dl < dh:
			return sign | uint16(lo)
		case dh < dl:
			return sign | uint16(hi)
		case lo%2 == 0:
			return sign | uint16(lo)
		}
		return sign | uint16(hi)
	}
	check := func(f float32) {
		if math.IsNaN(float64(f)) {
			return
		}
		if got, want := Float32ToF16(f), ref(f); got != want {
			t.Fatalf("Float32ToF16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	// Every midpoint between neighbouring halves, and one float32 ulp either side.
	for h := range 0x7c00 {
		mid := float32((vals[h] + vals[h+1]) / 2)
		for _, f := range []float32{mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9), float32(vals[h])} {
			check(f)
			check(-f)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(math.Float32frombits(r.Uint32()))
		// Concentrate on the half range.
		check(math.Float32frombits(0x33000000 + r.Uint32N(0x47800000-0x33000000)))
	}
}
