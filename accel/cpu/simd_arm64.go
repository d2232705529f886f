//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func dotQ8F32NEON(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ8F32R4NEON(w *byte, rb int, x *float32, nb int, out *[4]float32)

//go:noescape
func q8TileNEON(w *byte, rb int, x *float32, xStride int, nb int, out *float32, outStride int)

//go:noescape
func q8Tile4x3NEON(w *byte, rb int, x *float32, xStride int, nb int, out *float32, outStride int)

//go:noescape
func q8Tile4x2NEON(w *byte, rb int, x *float32, xStride int, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KNEON(w *byte, x, xs *float32, nb int) float32

//go:noescape
func dotQ4Kx4NEON(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KQ8KNEON(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

//go:noescape
func dotQ4KQ8Kx4NEON(w *byte, xq *int8, xd *float32, bs *int16, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KQ8KDotNEON(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

//go:noescape
func dotQ4KQ8Kx4DotNEON(w *byte, xq *int8, xd *float32, bs *int16, nb int, out *float32, outStride int)

//go:noescape
func dotQ8Q8KDotNEON(w *byte, xq *int8, xd *float32, ng int) float32

//go:noescape
func dotQ8Q8Kx4DotNEON(w *byte, xq *int8, xd *float32, ng int, out *float32, outStride int)

//go:noescape
func quantizeQ8KNEON(x *float32, q *int8, d *float32, s *int16, nb int)

//go:noescape
func dotF32NEON(a, b *float32, n int) float32

//go:noescape
func axpyNEON(y *float32, a float32, x *float32, n int)

//go:noescape
func dotRowsNEON(out, q, k *float32, stride, m, n int)

//go:noescape
func axpyRowsNEON(y, p, v *float32, stride, m, n int)

// archOps returns the NEON primitives (every arm64 CPU has Advanced
// SIMD), with SDOT's int8 Q4_K and Q8_0 dots where the CPU has the
// dot-product extension (archSets' last). Without it Q8_0 matmuls stay
// on float32 activations (the int8 Q8_0 dot of its -q8act test set is
// the portable Go one). The Q8_0 float32 dots are one arithmetic in
// three shapes (simd_arm64.s): one row, four rows and tiles of four
// rows by four tokens (by three and two for the tokens a batch leaves
// over).
// Attention's dotRows and axpyRows take a KV block in one call: eight
// keys' chains side by side, or up to 32 outputs kept in registers
// across the block's rows, where dotF32 and axpy per row pay a call, a
// reduction or a load and store of the outputs for every row.
func archOps() (simdOps, bool) {
	sets := archSets()
	return sets[len(sets)-1], true
}

// archSets returns the NEON set, and where the CPU has the dot-product
// extension (ARMv8.2: Cortex-A55, A76 and later, Neoverse) the same with
// SDOT's int8 Q4_K and Q8_0 dots ("neon-dotprod"), which Best then runs
// Q4_K matmuls, and Q8_0 ones of rows of a multiple of 256, on: per
// 32 weights and token two SDOTs and two MLAs (Q8_0's also zero two
// registers), where the float32 routes take eight FMLAs and their share
// of the widening, and the plain NEON int8 Q4_K one twelve
// instructions (not measured on arm64 hardware: none was at hand).
func archSets() []simdOps {
	ops := neonOps()
	if !cpu.ARM64.HasASIMDDP {
		return []simdOps{ops}
	}
	dp := ops
	dp.name = "neon-dotprod"
	dp.dotQ4KQ8K = dotQ4KQ8KAsm(dotQ4KQ8KDotNEON)
	dp.dotQ4KQ8Kx4 = dotQ4KQ8Kx4Asm(dotQ4KQ8Kx4DotNEON)
	dp.q4kInt8 = true
	dp.dotQ8Q8K = q8kDotAsm(dotQ8Q8KDotNEON, q8Group*q8Bytes)
	dp.dotQ8Q8Kx4 = q8kDotxAsm(dotQ8Q8Kx4DotNEON, q8Group*q8Bytes, 4)
	dp.q8Int8 = true
	return []simdOps{ops, dp}
}

// neonOps is the NEON set without the dot-product extension.
func neonOps() simdOps {
	ops := portableOps
	ops.name = "neon"
	ops.dotQ8F32 = dotQ8F32Asm(dotQ8F32NEON)
	ops.dotQ8F32R4 = dotQ8F32R4Asm(dotQ8F32R4NEON)
	ops.setQ8Tile(q8TileNEON, 4, 4)
	ops.setQ8TileLeft(q8Tile4x3NEON, 3)
	ops.setQ8TileLeft(q8Tile4x2NEON, 2)
	ops.dotQ4K = dotQ4KAsm(dotQ4KNEON)
	ops.dotQ4Kx4 = dotQ4Kx4Asm(dotQ4Kx4NEON)
	ops.quantizeQ8K = quantizeQ8KAsm(quantizeQ8KNEON)
	ops.dotQ4KQ8K = dotQ4KQ8KAsm(dotQ4KQ8KNEON)
	ops.dotQ4KQ8Kx4 = dotQ4KQ8Kx4Asm(dotQ4KQ8Kx4NEON)
	ops.dotF32 = dotF32Asm(dotF32NEON, 16)
	ops.axpy = axpyAsm(axpyNEON, 4)
	ops.dotRows = dotRowsAsm(dotRowsNEON, 4)
	ops.axpyRows = axpyRowsAsm(axpyRowsNEON, 4)
	elemNEON(&ops)
	f16NEON(&ops)
	q6kNEON(&ops)
	return ops
}
