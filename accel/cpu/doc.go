// Package cpu is the engine's CPU model runner: the forward pass of a
// Llama-family model (accel/llama's weights) for a batch of sequences whose
// keys and values live in a paged KV pool.
//
// # Flow
//
// New allocates the pool: per layer, NumBlocks blocks of BlockTokens token
// slots of NEmbdKV keys and as many values (float32, pointer-free). The
// engine's kvcache.Manager hands out the block ids; a sequence's block table
// maps its token position p to slot p%BlockTokens of block
// table[p/BlockTokens]. Forward takes a Batch: for each sequence, its block
// table, the position of its first new token and the new tokens (one for a
// decode, a chunk for a prefill). All tokens of all sequences are flattened
// into one matrix of activations, so every weight row is read once per step
// for the whole batch. Per layer it computes
//
//	RMSNorm → Q, K, V matmuls → RoPE → write K, V into the pool →
//	paged attention per token → O matmul → residual →
//	RMSNorm → gate, up matmuls → SwiGLU → down matmul → residual
//
// and finally the output norm and projection, only for the sequences that
// asked for logits (the last token of a decode or of a prompt's last chunk).
// Keys and values of a step are written before any attention of that step
// reads them, layer by layer, so a prefill chunk attends to itself.
//
// # Kernels
//
// Each operation is a field of Kernels. Scalar returns the reference set,
// whose arithmetic is the same as accel/llama's (float64 accumulation in
// the same order), so a batched paged forward gives the same logits bit for
// bit as the reference for every batch composition. Best returns the
// fastest set the CPU runs, chosen at run time from its features: on amd64
// AVX-512 (F, BW and VL) over AVX2, else AVX2 with FMA and F16C; on arm64
// NEON (always present); Go assembly primitives (simd_amd64.s,
// simd_avx512_amd64.s, simd_arm64.s) under float32 kernels: Q8_0, Q4_K,
// Q6_K, F16 and F32 dots, RMSNorm, SwiGLU (a float32 exp), attention with an
// online softmax one KV block at a time (a block's scores, its
// exponentials with their sum, and its weighted values each in one
// call), and RoPE with each angle's sine and cosine computed once for all
// heads. RMSNorm's scaling and RoPE's rotation (in float64, multiplies
// and add unfused) give the Go loops' bits in every set (elem_amd64.s,
// elem_arm64.s); the exponentials, one vector expf with the Go expf's
// constants, are within its error. Elsewhere, and with the purego build
// tag, Best is Scalar; GODEBUG=cpu.avx512f=off makes an
// AVX-512 CPU use the AVX2 set.
//
// Q8_0 matmuls on float32 activations (Q8_0 × F32: BestF32Act, NEON, and
// rows whose length is not a multiple of 256) widen each block's
// quants and multiply them by its f16 scale (exact: an int8 times
// an f16 fits a float32's mantissa), and every (row, token) is one chain
// of float32 lanes (16 with AVX-512, 8 with AVX2, 4 with NEON) in column
// order, one FMA per lane-width of columns, summed across the lanes by the
// same tree at the end. Matmuls take the rows in blocks that stay in L2
// and, within a block, register tiles of rows × tokens (AVX2 2 × 4,
// AVX-512 and NEON 4 × 4), so that each widened weight serves several
// tokens and each activation load several rows; two or three tokens
// left over take tiles of their own (a decode step of 7 sequences is
// 4 + 3), and a lone one four rows at a time. Every shape gives the same
// bits, so a sequence's tokens never depend on the batch (TestQ8TileBits,
// TestMatMulFast).
// F16 matmuls take the same shapes (tiles AVX2 2 × 4, AVX-512 and NEON
// 4 × 4) with the same contract: the halves widened exactly (VCVTPH2PS,
// FCVTL), one FMA chain per (row, token), columns past the vector width
// added in Go the same way in every shape (TestF16ShapeBits).
//
// Q4_K matmuls (k-quant super-blocks of 256 weights: eight sub-blocks with
// a 6-bit scale and min each, 4-bit quants) take their activations
// quantized to int8 once per matmul in Best's AVX2, AVX-512 and
// NEON-with-SDOT sets, as llama.cpp does (its Q8_K): Prepare quantizes
// each token in blocks of 256 (one float32 scale, round to nearest even,
// by AVX2 or NEON) and sums the quants by 32 (MatMulInput.KD, KS); the dot
// keeps the scales and mins integers (VPMADDUBSW of the nibbles with the
// quants, VPMADDWD by the sub-block's scale, eight exact int32 lanes per
// super-block, then one FMA of the lanes with d·xd and one of the mins'
// products with the sums times −dmin·xd). That is about 2x the float32
// route per token (BenchmarkDotQ4K) and 1.5-1.7x on TinyLlama's decode
// steps; it moves the logits a little (up to about 4e-2 on the Q4_K test
// model, enough to flip a near-tie greedy token of a random-weight model).
// dotQ4KQ8KGo is the same arithmetic in Go, bit for bit (fma32 is a
// float32 FMA), and one weight row against four tokens gives four single
// dots' bits, so results do not depend on the batch. On arm64 the same
// lanes come from SMULL, SADDLP and ADDP, or with the dot-product
// extension (ARMv8.2) from one SDOT per 16 bytes; only the latter is
// Best's (by instruction count: the plain NEON int8 route wins only for a
// lone token; neither was measured on arm64 hardware). BestF32Act, and
// NEON without SDOT, keep Q4_K on float32 activations: the nibbles widened
// in registers, each sub-block's 32 products summed and scaled, its min
// multiplied by the activations' sum (MatMulInput.S); those are the
// reference's greedy tokens. Tiles that dequantize each weight once were
// tried and left out: they made a lone token 1.4x slower. Q6_K matmuls
// (the output and some attn_v and ffn_down matrices of published Q4_K_M
// files: 16 sub-blocks of 16 weights with an int8 scale, 6-bit quants less
// 32) take the same int8 activations in Best's AVX2 and AVX-512 sets: the
// block's centred quants decoded once, VPSIGNB and VPMADDUBSW of their
// magnitudes with the signed activation quants, VPMADDWD by the two
// sub-blocks' scales, the same eight lanes and fold (dotQ6KQ8KGo's bits).
// BestF32Act and the NEON sets keep them on float32: per sub-block the
// quants' products summed, then scaled. One row against four tokens gives
// four single dots' bits either way. On a lent Xeon (before this route
// existed) the AVX-512 float32 Q4_K and Q6_K dots were 1.04-1.60x AVX2's;
// the AVX-512 set runs AVX2's int8 dots, about 2x AVX2's float32 ones on
// Zen 3, without having been timed there.
//
// Best's AVX2 set runs Q8_0 matmuls whose rows are a multiple of 256
// long (every matrix of most published models) on the same int8
// activations as Q4_K's (the AVX-512 set has the same dots but keeps its
// float32 Q8_0 tiles, which were the ones timed on AVX-512 hardware).
// llama.cpp's q8_0 × q8_0 dot pays a conversion and an FMA per block of
// 32 for each (row, token), because every block has its own f16 scale;
// that made an int8 route no faster than the float32 tiles here.
// Instead the eight scales of a group of 256 weights become integers
// over one power of two (q8GroupScales: the largest exact in 11 bits,
// the others rounded to its step, at most 2^-11 of the largest off), so
// that VPSIGNB, VPMADDUBSW of |w|
// with x·sign(w) and VPMADDWD by the integer scale sum the group into
// eight exact int32 lanes, and a token takes one conversion and one
// FMA with xd·power per 256 weights. One row against eight tokens
// (its int32 lanes in eight registers, the float32 chains in memory)
// shares each block's |w| and scale: 1.4x the float32 tiles per product
// on this 2-core Zen 3, 1.2-1.4x on TinyLlama's decode steps of seven
// and eight sequences, and the same speed for one (docs/benchmarks.md).
// dotQ8Q8KGo is the same arithmetic in Go, bit for bit, and one, four
// and eight tokens give the same bits. It moves the logits as Q4_K's
// int8 route does; BestF32Act keeps the exact float32 route. On arm64
// the SDOT set has the same arithmetic (two SDOTs, which multiply signed
// by signed, and two MLAs by the scale per block and token; one token
// and four, the same bits under qemu; not timed on arm64 hardware) and
// Best runs it; plain NEON keeps Q8_0 on float32. The internal "-q8act"
// sets that tests and benchmarks build quantize every matmul that has
// an int8 dot, in portable Go where a set has no assembly one.

// Every fast primitive and kernel is tested against the Go or scalar
// reference with a bound on float32 rounding (simd_test.go), or bit for
// bit where the set promises the Go primitive's arithmetic; the AVX-512
// set where the CPU has it (this repository's CI and development
// machines do not: it was run on a lent Intel Xeon with AVX-512, see
// docs/benchmarks.md), the NEON set under qemu-user on amd64
// (qemu_test.go).
//
// # Threads
//
// The runner splits matmul rows and attention tokens across Threads
// workers: the calling goroutine and Threads−1 goroutines started by the
// first Forward that splits work and stopped by Close (the engine's
// scheduler closes its runner when it stops). A job's range is cut into
// chunks, about eight per worker, that the workers claim from an atomic
// counter, so a worker slowed by other work on its core takes fewer of
// them instead of holding up the step. A job is published with an
// atomic counter; between the ~150 jobs of a step the workers poll
// (yielding) and park only after 50 µs without work, so a step costs no
// goroutine start and no channel operation per matmul. The caller waits
// for the last part by polling briefly, then sleeping, so that on a
// loaded machine it does not keep a descheduled worker off its core. A
// decode step allocates nothing once the buffers have grown.
//
// A Runner is not safe for concurrent use: the engine's scheduler goroutine
// owns it.
package cpu
