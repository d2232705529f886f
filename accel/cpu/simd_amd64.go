//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func dotQ8F32AVX2(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ8F32R4AVX2(w *byte, rb int, x *float32, nb int, out *[4]float32)

//go:noescape
func q8Tile2x4AVX2(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)

//go:noescape
func q8Tile2x3AVX2(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)

//go:noescape
func q8Tile2x2AVX2(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KAVX2(w *byte, x, xs *float32, nb int) float32

//go:noescape
func dotQ4Kx4AVX2(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KQ8KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

//go:noescape
func dotQ4KQ8Kx4AVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int, out *float32, outStride int)

//go:noescape
func dotQ8Q8KAVX2(w *byte, xq *int8, xd *float32, ng int) float32

//go:noescape
func dotQ8Q8Kx4AVX2(w *byte, xq *int8, xd *float32, ng int, out *float32, outStride int)

//go:noescape
func dotQ8Q8Kx8AVX2(w *byte, xq *int8, xd *float32, ng int, out *float32, outStride, k int)

//go:noescape
func quantizeQ8KAVX2(x *float32, q *int8, d *float32, s *int16, nb int)

//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

//go:noescape
func dotRowsAVX2(out, q, k *float32, stride, m, n int)

//go:noescape
func axpyRowsAVX2(y, p, v *float32, stride, m, n int)

//go:noescape
func swiGLUAVX2(gate, up *float32, n int, c *[12]float32)

//go:noescape
func axpyAVX2(y *float32, a float32, x *float32, n int)

// archOps returns the AVX-512 set on a CPU that has it (avx512Ops),
// else the AVX2 one (avx2Ops), else none.
func archOps() (simdOps, bool) {
	ops, ok := avx2Ops()
	if ok && hasAVX512 {
		ops = avx512Ops(ops)
	}
	return ops, ok
}

// avx2Ops returns the AVX2 primitives when the CPU has AVX2, FMA and F16C
// (every AVX2 CPU made has the other two; checked anyway).
func avx2Ops() (simdOps, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasF16C {
		return simdOps{}, false
	}
	ops := simdOps{
		name:        "avx2",
		dotQ8F32:    dotQ8F32Asm(dotQ8F32AVX2),
		dotQ8F32R4:  dotQ8F32R4Asm(dotQ8F32R4AVX2),
		dotQ4K:      dotQ4KAsm(dotQ4KAVX2),
		dotQ4Kx4:    dotQ4Kx4Asm(dotQ4Kx4AVX2),
		dotQ8Q8K:    q8kDotAsm(dotQ8Q8KAVX2, q8Group*q8Bytes),
		dotQ8Q8Kx4:  q8kDotxAsm(dotQ8Q8Kx4AVX2, q8Group*q8Bytes, 4),
		dotQ8Q8Kx8:  q8kDot8Asm(dotQ8Q8Kx8AVX2, q8Group*q8Bytes),
		dotQ4KQ8K:   dotQ4KQ8KAsm(dotQ4KQ8KAVX2),
		dotQ4KQ8Kx4: dotQ4KQ8Kx4Asm(dotQ4KQ8Kx4AVX2),
		quantizeQ8K: quantizeQ8KAsm(quantizeQ8KAVX2),
		dotF32:      dotF32Asm(dotF32AVX2, 8),
		axpy:        axpyAsm(axpyAVX2, 8),
		dotRows:     dotRowsAsm(dotRowsAVX2, 8),
		axpyRows:    axpyRowsAsm(axpyRowsAVX2, 8),
		swiGLU:      swiGLUAsm(swiGLUAVX2, 8),
	}
	// two rows by four tokens: 8 accumulators, 2 scales, 2 widened
	// weights and 1 activation register of the 16
	ops.q4kInt8 = true // about 2x dotQ4K per token (BenchmarkDotQ4K)
	ops.q8Int8 = true  // BenchmarkMatMulQ8Int8
	ops.setQ8Tile(q8Tile2x4AVX2, 2, 4)
	ops.setQ8TileLeft(q8Tile2x3AVX2, 3)
	ops.setQ8TileLeft(q8Tile2x2AVX2, 2)
	elemAVX2(&ops)
	f16AVX2(&ops)
	q6kAVX2(&ops)
	return ops, true
}
