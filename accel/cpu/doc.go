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
// Q8_0 matmuls keep the activations in float32 (Q8_0 × F32). Each block's
// quants are widened and multiplied by its f16 scale (exact: an int8 times
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
// a 6-bit scale and min each, 4-bit quants) keep the activations in
// float32 too: the nibbles are widened in registers, each sub-block's 32
// products summed and scaled, and its min multiplied by the activations'
// sum, which Prepare computes once per matmul (MatMulInput.S); one weight
// row against four tokens gives four single dots' bits. Tiles that
// dequantize each weight once were tried and left out: they made a lone
// token 1.4x slower. Q6_K matmuls (the output and some attn_v and
// ffn_down matrices of published Q4_K_M files: 16 sub-blocks of 16
// weights with an int8 scale, 6-bit quants less 32) do the same with
// float32 activations: per sub-block the quants' products summed, then
// scaled; one row against four tokens gives four single dots' bits.
//
// A set that quantizes the activations to int8 blocks once per matmul
// (llama.cpp's q8_0 × q8_0; for Q4_K, VPMADDUBSW of the nibbles with the
// int8 quants; portable Go on arm64) is BestQ8Act, tested and benchmarked
// but not the default: for Q8_0 it is slower here (its int8 dot is not
// tiled), for Q4_K it is faster (1.08x for one sequence, 1.17x in steps
// of eight on the 2-core Zen 3; slower on the lent Xeon, whose AVX-512
// float32 Q4_K dots it does not use) but it moves the logits enough to
// change greedy tokens of random-weight test models. Every fast
// primitive and kernel is tested against the Go or scalar reference with a
// bound on float32 rounding (simd_test.go); the AVX-512 set where the CPU
// has it (this repository's CI and development machines do not: it was
// run on a lent Intel Xeon with AVX-512, see docs/benchmarks.md), the
// NEON set under qemu-user on amd64 (qemu_test.go).
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
