//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func dotQ8F32AVX512(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ8F32R4AVX512(w *byte, rb int, x *float32, nb int, out *[4]float32)

//go:noescape
func q8TileAVX512(w *byte, rb int, x *float32, xStride, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KAVX512(w *byte, x, xs *float32, nb int) float32

//go:noescape
func dotQ4Kx4AVX512(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)

//go:noescape
func dotF32AVX512(a, b *float32, n int) float32

//go:noescape
func dotF16AVX512(w *uint16, x *float32, n int) float32

//go:noescape
func axpyAVX512(y *float32, a float32, x *float32, n int)

//go:noescape
func dotRowsAVX512(out, q, k *float32, stride, m, n int)

//go:noescape
func axpyRowsAVX512(y, p, v *float32, stride, m, n int)

// hasAVX512 reports whether the CPU runs the AVX-512 primitives: F for
// the 512-bit arithmetic, BW and VL for the byte and 256-bit forms they
// use on Z16-Z31 (every CPU with F since Skylake-SP has the other two;
// checked anyway). GODEBUG=cpu.avx512f=off turns the set off, as for the
// runtime. archSets clears it for a moment to build the AVX2 set on a
// CPU that has both.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// withAVX512 is archOps' last step: on a CPU with AVX-512 it returns the
// AVX2 set avx2 with the primitives that gain from 16 lanes replaced
// (avx512Ops), else avx2 as it is.
func withAVX512(avx2 simdOps) simdOps {
	if !hasAVX512 {
		return avx2
	}
	return avx512Ops(avx2)
}

// q8TileRowsAVX512 and q8TileToksAVX512 are q8TileAVX512's shape: 16
// accumulators, four rows' scaled quants, four tokens' activations and
// four scales fill 28 of the 32 Z registers.
const (
	q8TileRowsAVX512 = 4
	q8TileToksAVX512 = 4
)

// avx512Ops is avx2 with AVX-512 Q8_0 float32 dots (single, four rows
// and the 4 × 4 tile, which share one arithmetic: per half block the
// quants times the block's scale, exactly, then one FMA into a single
// 16-lane accumulator, summed in HSUM_Z's tree), F32 and F16 dots, axpy
// and the attention rows. dotQ8F32x4 is nil: AVX2's would give other
// bits than this set's dotQ8F32, and a (row, token) result must not
// depend on the batch. The int8 dot, the Q4_K pair and SwiGLU stay
// AVX2's.
func avx512Ops(avx2 simdOps) simdOps {
	ops := avx2
	ops.name = "avx512"
	ops.dotQ8F32 = dotQ8F32Asm(dotQ8F32AVX512)
	ops.dotQ8F32x4 = nil
	ops.dotQ8F32R4 = func(w []byte, rb int, x []float32, out *[4]float32) {
		nb := len(x) / q8Size
		if nb == 0 {
			*out = [4]float32{}
			return
		}
		_ = w[3*rb+nb*q8Bytes-1]
		dotQ8F32R4AVX512(&w[0], rb, &x[0], nb, out)
	}
	ops.q8Tile = func(w []byte, rb int, x []float32, cols int, out []float32, outStride int) {
		const R, T = q8TileRowsAVX512, q8TileToksAVX512
		nb := cols / q8Size
		_ = out[(T-1)*outStride+R-1]
		if nb == 0 {
			for t := range T {
				clear(out[t*outStride : t*outStride+R])
			}
			return
		}
		_, _ = w[(R-1)*rb+nb*q8Bytes-1], x[(T-1)*cols+nb*q8Size-1]
		q8TileAVX512(&w[0], rb, &x[0], 4*cols, nb, &out[0], 4*outStride)
	}
	ops.q8TileRows, ops.q8TileToks = q8TileRowsAVX512, q8TileToksAVX512
	ops.dotQ4K = dotQ4KAsm(dotQ4KAVX512)
	ops.dotQ4Kx4 = dotQ4Kx4Asm(dotQ4Kx4AVX512)
	ops.dotF32 = dotF32Asm(dotF32AVX512, 16)
	ops.dotF16 = dotF16Asm(dotF16AVX512, 16)
	ops.axpy = axpyAsm(axpyAVX512, 16)
	ops.dotRows = dotRowsAsm(dotRowsAVX512, 16)
	ops.axpyRows = axpyRowsAsm(axpyRowsAVX512, 16)
	return ops
}

// archSets returns the assembly sets this CPU runs, each once: AVX2,
// then AVX-512 when the CPU has it (Best's choice is the last). Tests
// and benchmarks use it to cover both sets on one machine; it briefly
// clears hasAVX512, so it must not run beside archOps.
func archSets() []simdOps {
	best, ok := archOps()
	if !ok {
		return nil
	}
	if !hasAVX512 {
		return []simdOps{best}
	}
	hasAVX512 = false
	avx2, _ := archOps()
	hasAVX512 = true
	return []simdOps{avx2, best}
}
