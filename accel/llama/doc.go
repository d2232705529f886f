// Package llama is a scalar reference forward pass for Llama-family models
// read from GGUF files. It is written for clarity, not speed: it is the
// correctness reference that faster engines are tested against.
//
// # Flow
//
// Load reads the hyperparameters (llama.embedding_length, block_count,
// feed_forward_length, attention.head_count, attention.head_count_kv,
// rope.freq_base, attention.layer_norm_rms_epsilon, context_length; the
// vocabulary size from token_embd.weight) of a parsed *gguf.File, checks every
// tensor's shape and type, and keeps the weights as views into the file's data
// (no copy): the File must stay open while the Model is used. NewState
// allocates a key/value cache for a context length, and Model.Forward runs one
// token at one position, appending to that cache and returning the logits.
// Generate is a greedy helper on top of Forward.
//
// # Conventions
//
// Tensors are row-major as GGUF stores them: dims[0] is the contiguous row
// length, so a weight with dims [nIn, nOut] is nOut rows of nIn values and a
// matrix-vector product computes out[r] = dot(row r, x). Rows may be F32, F16,
// Q8_0, Q4_K or Q6_K (dequantized to float32 weights block by block, as
// ggml's dequantize_row_q4_K and _q6_K); dot products accumulate in float64 and activations
// are float32.
//
// One block computes, as llama.cpp's llm_build_llama:
//
//	h   = x + Wo · Attention(RoPE(Wq·n), RoPE(Wk·n), Wv·n),  n = RMSNorm(x)·attn_norm
//	out = h + Wdown · (silu(Wgate·m) ⊙ (Wup·m)),              m = RMSNorm(h)·ffn_norm
//
// followed by RMSNorm with output_norm and the output projection (output.weight,
// or token_embd.weight when it is absent: tied embeddings).
//
// RoPE uses llama.cpp's "normal" mode (LLAMA_ROPE_TYPE_NORM, used for the
// llama architecture): within each head the adjacent pairs (x[2i], x[2i+1])
// are rotated by the angle pos·θ^(-2i/headDim), θ = rope.freq_base (default
// 10000). Attention is causal over positions 0..pos with scale 1/sqrt(headDim)
// and grouped-query heads: query head h reads key/value head
// h / (headCount/headCountKV).
//
// Not implemented: NeoX-mode RoPE and RoPE scaling, attention/QKV biases
// (Qwen2), other quantization types, batched prompt processing, and anything
// aimed at speed.
package llama
