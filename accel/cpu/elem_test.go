package cpu

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/outpost-iot/outpost/accel/llama"
)

// elemSizes are the lengths the elementwise primitives are tested at:
// every remainder of the vector widths (4, 8, 16) around them, and the
// lengths of TinyLlama's rows.
var elemSizes = append(slices.Clone(oddSizes), 2, 5, 32, 48, 63, 65, 2048, 5632)

// guarded returns a slice of n values from fill inside a buffer whose
// values beyond it are NaN, and a check that they still are: a primitive
// must not write past its length.
func guarded(n int, fill func(i int) float32) ([]float32, func() bool) {
	buf := make([]float32, n+24)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	for i := range n {
		buf[i] = fill(i)
	}
	return buf[:n], func() bool {
		for _, v := range buf[n:] {
			if v == v {
				return false
			}
		}
		return true
	}
}

// TestScaleMulBits: each set's scaleMul gives the bits of the Go loop
// (x·s)·w it replaces, zeros and signed zeros included, and writes
// nothing past len(x); RMSNorm with it gives the same bits as without.
func TestScaleMulBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, ops := range opsUnderTest() {
		if ops.scaleMul == nil {
			continue
		}
		for _, n := range elemSizes {
			x, w := randF32(rng, n, 8), randF32(rng, n, 2)
			for i := 0; i < n; i += 5 {
				x[i] = 0
			}
			for i := 3; i < n; i += 7 {
				w[i] = float32(math.Copysign(0, -1))
			}
			s := rng.Float32()*4 + 1e-3
			out, ok := guarded(n, func(int) float32 { return 1 })
			ops.scaleMul(out, x, w, s)
			for i := range out {
				if want := x[i] * s * w[i]; math.Float32bits(out[i]) != math.Float32bits(want) {
					t.Fatalf("%s scaleMul n=%d [%d]: %v, want %v", ops.name, n, i, out[i], want)
				}
			}
			if !ok() {
				t.Fatalf("%s scaleMul n=%d wrote past the end", ops.name, n)
			}
			if n == 0 {
				continue
			}
			goOps := ops
			goOps.scaleMul = nil
			got, want := make([]float32, n), make([]float32, n)
			fastKernels(ops, actF32).RMSNorm(got, x, w, 1e-5)
			fastKernels(goOps, actF32).RMSNorm(want, x, w, 1e-5)
			if !slices.Equal(got, want) {
				t.Fatalf("%s RMSNorm n=%d: not the Go loop's bits", ops.name, n)
			}
		}
	}
}

// ropeTables are rope's tables for the angles pos·freqs.
func ropeTables(freqs []float64, pos int) (cs, sn []float64) {
	for _, f := range freqs {
		sin, cos := math.Sincos(float64(pos) * f)
		cs = append(cs, cos, cos)
		sn = append(sn, -sin, sin)
	}
	return cs, sn
}

// ropeRef is the rope contract in Go, each product converted explicitly
// so that no compiler fuses it into the addition.
func ropeRef(x []float32, cs, sn []float64) {
	hd := len(cs)
	in := slices.Clone(x)
	for h := 0; h+hd <= len(x); h += hd {
		for j := range hd {
			x[h+j] = float32(float64(float64(in[h+j])*cs[j]) + float64(float64(in[h+(j^1)])*sn[j]))
		}
	}
}

// ulpDiff is how many float32 steps apart a and b are (same sign).
func ulpDiff(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	return max(d, -d)
}

// TestRopeBits: each set's rope gives the contract's bits (ropeRef) for
// head widths whose halves leave every tail of the vector widths, with
// a partial head after the whole ones that it must leave alone; the
// kernel with it gives ropeScalar's bits. On arm64 the Go compiler may
// fuse ropeScalar's a·cos − b·sin into one multiply-add (the language
// allows it where no explicit conversion rounds the product), which can
// move a result by one float32 step, so there the kernel is held to one
// step; the primitive, unfused in assembly and in ropeRef, to its bits.
func TestRopeBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	kernelUlps := int64(0)
	if runtime.GOARCH == "arm64" {
		kernelUlps = 1
	}
	for _, ops := range opsUnderTest() {
		if ops.rope == nil {
			continue
		}
		for _, hd := range []int{2, 4, 6, 8, 10, 12, 14, 16, 18, 24, 34, 64, 100, 128, 256} {
			freqs := make([]float64, hd/2)
			for i := range freqs {
				freqs[i] = math.Pow(10000, -float64(2*i)/float64(hd))
			}
			for _, heads := range []int{0, 1, 3, 32} {
				pos := rng.IntN(4096)
				cs, sn := ropeTables(freqs, pos)
				n := heads*hd + hd/2 // a partial head at the end
				x := randF32(rng, n, 3)
				if n > 1 {
					x[0], x[1] = 0, float32(math.Copysign(0, -1))
				}
				got, ok := guarded(n, func(i int) float32 { return x[i] })
				want := slices.Clone(x)
				ops.rope(got, cs, sn)
				ropeRef(want, cs, sn)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s rope hd=%d heads=%d [%d]: %v, want %v", ops.name, hd, heads, i, got[i], want[i])
					}
				}
				if !ok() {
					t.Fatalf("%s rope hd=%d heads=%d wrote past the end", ops.name, hd, heads)
				}
				got = slices.Clone(x)
				fastKernels(ops, actF32).RoPE(got, freqs, pos)
				want = slices.Clone(x)
				ropeScalar(want, freqs, pos)
				for i := range got {
					if d := ulpDiff(got[i], want[i]); d > kernelUlps {
						t.Fatalf("%s RoPE hd=%d heads=%d [%d]: %v, want %v (%d steps)", ops.name, hd, heads, i, got[i], want[i], d)
					}
				}
			}
		}
	}
}

// TestExpSub: each set's expSub gives e^(s[j]−m) within expf's bound (2
// ulp, 4 here for the fused polynomial; 0 or a denormal below −87 where
// the assembly gives 0: e^−87 < 1.7e−38 absolute), at the ends of the range
// too, and returns their sum within sumBound of the exact one; the sum's
// order depends on the length alone, so the same values at another
// address give the same bits.
func TestExpSub(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	special := []float32{0, -1e-30, -86.9, -87, -87.1, -87.4, -88, -100, -103, -110, -1e4, float32(math.Inf(-1)), 1, 10, 20}
	for _, ops := range opsUnderTest() {
		if ops.expSub == nil {
			continue
		}
		for _, n := range elemSizes {
			m := rng.Float32()*20 - 10
			x := make([]float32, n)
			for i := range x {
				x[i] = m + rng.Float32()*40 - 35 // s − m in [−35, 5)
				if rng.IntN(5) == 0 {
					x[i] = m + special[rng.IntN(len(special))]
				}
			}
			got, ok := guarded(n, func(i int) float32 { return x[i] })
			sum := ops.expSub(got, m)
			var exact, abs float64
			for i, v := range got {
				want := math.Exp(float64(x[i] - m))
				if !relClose(v, float32(want), 4*u, 1.7e-38) {
					t.Fatalf("%s expSub n=%d [%d]: e^%v = %v, want %v", ops.name, n, i, x[i]-m, v, want)
				}
				exact += float64(v)
				abs += math.Abs(float64(v))
			}
			if math.Abs(float64(sum)-exact) > sumBound(n, abs) {
				t.Fatalf("%s expSub n=%d: sum %v, want %v", ops.name, n, sum, exact)
			}
			if !ok() {
				t.Fatalf("%s expSub n=%d wrote past the end", ops.name, n)
			}
			// the same values one float32 further on
			buf := make([]float32, n+1)
			copy(buf[1:], x)
			if sum2 := ops.expSub(buf[1:], m); math.Float32bits(sum2) != math.Float32bits(sum) || !slices.Equal(buf[1:], got) {
				t.Fatalf("%s expSub n=%d: %v at another address, %v here", ops.name, n, sum2, sum)
			}
		}
	}
}

// TestSwiGLUExtremes: each set's SwiGLU against the float64 reference
// (TestElementwiseFast's bound) on arguments across and beyond the
// exponential's clamp, zeros included, at every tail length.
func TestSwiGLUExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-20, -1e-20, 86, -86, 87.5, -87.5, 88.5, -88.5, 100, -100}
	for _, ops := range opsUnderTest() {
		k := fastKernels(ops, actF32)
		for _, n := range elemSizes {
			g := randF32(rng, n, 30)
			for i := range g {
				if rng.IntN(3) == 0 {
					g[i] = special[rng.IntN(len(special))]
				}
			}
			up := randF32(rng, n, 2)
			got, ok := guarded(n, func(i int) float32 { return g[i] })
			want := slices.Clone(g)
			k.SwiGLU(got, up)
			llama.SwiGLU(want, up)
			for i := range got {
				if !relClose(got[i], want[i], 6*u, 1e-35) {
					t.Fatalf("%s SwiGLU n=%d [%d] g=%v: %v, want %v", ops.name, n, i, g[i], got[i], want[i])
				}
			}
			if !ok() {
				t.Fatalf("%s SwiGLU n=%d wrote past the end", ops.name, n)
			}
		}
	}
}

// TestElemKernelsSet: the elementwise kernels are in every assembly set
// (Best's kernels use them), SwiGLU too, and RoPE, whose tables stay on
// ropeFast's stack, allocates nothing.
func TestElemKernelsSet(t *testing.T) {
	freqs := []float64{1, 0.5, 0.25, 0.125}
	x := make([]float32, 64)
	for _, ops := range archSets() {
		if ops.scaleMul == nil || ops.rope == nil || ops.expSub == nil || ops.swiGLU == nil {
			t.Fatalf("%s lacks an elementwise kernel", ops.name)
		}
		k := fastKernels(ops, actF32)
		if n := testing.AllocsPerRun(10, func() { k.RoPE(x, freqs, 7) }); n != 0 {
			t.Fatalf("%s RoPE: %v allocations per call", ops.name, n)
		}
	}
}
