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
func q8Tile4x3AVX512(w *byte, rb int, x *float32, xStride, nb int, out *float32, outStride int)

//go:noescape
func q8Tile4x2AVX512(w *byte, rb int, x *float32, xStride, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KAVX512(w *byte, x, xs *float32, nb int) float32

//go:noescape
func dotQ4Kx4AVX512(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)

//go:noescape
func dotF32AVX512(a, b *float32, n int) float32

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
// runtime.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

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
// 16-lane accumulator, summed in HSUM_Z's tree; the tiles for leftover
// tokens too), the F32 dot, axpy and the attention rows, and the Q4_K
// pair on float32 activations (dotQ4K, dotQ4Kx4: 16 lanes, one
// sub-block pair per step); the hooks at the end add the elementwise
// kernels and SwiGLU, the F16 shapes and the Q6_K pair. Every shape of
// a family is replaced together: AVX2's would give other bits than this
// set's single dot, and a (row, token) result must not depend on the
// batch. The int8 dots (Q8_0, Q4_K and Q6_K) stay AVX2's; of those, the
// default runs Q4_K's and Q6_K's (about 2x AVX2's float32 dots on Zen 3,
// more than the AVX-512 float32 ones gained on the Xeon) but not Q8_0's:
// this set's float32 Q8_0 tiles were timed at 1.39x AVX2's at eight
// sequences on the Xeon, AVX2's int8 Q8_0 route (1.2-1.4x AVX2's
// float32 tiles there on Zen 3) was not timed on AVX-512 hardware.
func avx512Ops(avx2 simdOps) simdOps {
	ops := avx2
	ops.name = "avx512"
	ops.q8Int8 = false
	ops.dotQ8F32 = dotQ8F32Asm(dotQ8F32AVX512)
	ops.dotQ8F32R4 = dotQ8F32R4Asm(dotQ8F32R4AVX512)
	ops.setQ8Tile(q8TileAVX512, q8TileRowsAVX512, q8TileToksAVX512)
	ops.q8TileLeft = [4]func([]byte, int, []float32, int, []float32, int){} // AVX2's are two rows
	ops.setQ8TileLeft(q8Tile4x3AVX512, 3)
	ops.setQ8TileLeft(q8Tile4x2AVX512, 2)
	ops.dotQ4K = dotQ4KAsm(dotQ4KAVX512)
	ops.dotQ4Kx4 = dotQ4Kx4Asm(dotQ4Kx4AVX512)
	ops.dotF32 = dotF32Asm(dotF32AVX512, 16)
	ops.axpy = axpyAsm(axpyAVX512, 16)
	ops.dotRows = dotRowsAsm(dotRowsAVX512, 16)
	ops.axpyRows = axpyRowsAsm(axpyRowsAVX512, 16)
	elemAVX512(&ops)
	f16AVX512(&ops)
	q6kAVX512(&ops)
	return ops
}

// archSets returns the assembly sets this CPU runs: AVX2, then AVX-512
// when the CPU has it (archOps' choice is the last). Tests and
// benchmarks use it to cover both sets on one machine.
func archSets() []simdOps {
	avx2, ok := avx2Ops()
	switch {
	case !ok:
		return nil
	case hasAVX512:
		return []simdOps{avx2, avx512Ops(avx2)}
	}
	return []simdOps{avx2}
}
