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
// Each operation is a field of Kernels; Scalar returns the reference set,
// whose arithmetic is the same as accel/llama's (float64 accumulation in the
// same order), so a batched paged forward gives the same logits bit for bit
// as the reference for every batch composition. Faster kernels (SIMD, issue
// 6) replace fields one by one and are tested against Scalar. The runner
// splits matmul rows and attention tokens across Threads goroutines.
//
// A Runner is not safe for concurrent use: the engine's scheduler goroutine
// owns it.
package cpu
