// Package synth writes random-weight GGUF models of named shapes, for tests,
// benchmarks and demos where no real model may be downloaded or shipped.
//
// A model is a llama-architecture GGUF file (general.architecture "llama")
// with the tensor names, dimensions and metadata keys that llama.cpp reads,
// so any GGUF runtime that loads TinyLlama loads it too. Its parts:
//
//   - Shape: the hyperparameters. Shapes lists the built-in ones: "tiny"
//     (under 1 MB at q8_0, for unit tests) and "tinyllama-1.1b" (TinyLlama
//     1.1B's dimensions, about 1.17 GB at q8_0, for benchmarks).
//   - Weights: normal(0, 0.02) values from a PCG generator seeded by
//     Options.Seed and the tensor name, so a file depends only on its
//     Options and each tensor can be regenerated alone. Norm weights are 1
//     and stay F32 whatever the quantization, as llama.cpp keeps them.
//     Matrices are F32, F16, Q8_0 or Q4_K (quantized row by row with
//     gguf.QuantizeQ8_0 or gguf.QuantizeQ4_K, ggml's reference method;
//     with Q4_K, matrices whose rows are not a multiple of 256 long are
//     Q8_0, and general.file_type says MOSTLY_Q4_K_S), or Q4_K in
//     llama.cpp's Q4_K_M mix (Options.Mix = MixQ4_K_M: the output and
//     some layers' attn_v and ffn_down in Q6_K, gguf.QuantizeQ6_K;
//     MOSTLY_Q4_K_M). Rows are generated in order, encoded 64 at a time in
//     parallel and written through gguf.Tensor.WriteData, so memory stays
//     bounded by 64 rows plus the vocabulary, whatever the model size.
//   - Vocabulary: a SentencePiece-style "llama" tokenizer (see Vocab):
//     control tokens, then printable ASCII pieces ("▁" marks a leading
//     space) up to the vocabulary size, and no byte-fallback tokens, so
//     whatever a random model samples is printable text. Every token is
//     valid UTF-8 and unique.
//   - Chat template: ChatML (ChatTemplate), with <|im_start|> and <|im_end|>
//     as control tokens; <|im_end|> is the end-of-turn token and </s> the
//     end-of-sequence token.
//
// The main flow: pick a Shape (LookupShape), build Options, then Write to
// any io.Writer or WriteFile to a path (temp file, fsync, rename, with a
// progress callback). Plan and Size describe the file without writing it.
package synth
