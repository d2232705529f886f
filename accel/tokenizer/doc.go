// Package tokenizer turns text into token ids and back, with the
// vocabulary read from GGUF metadata (tokenizer.ggml.*), following
// llama.cpp's src/llama-vocab.cpp.
//
// # Loading
//
// FromGGUF reads tokenizer.ggml.model, .tokens, .scores, .token_type,
// .merges, .pre, the bos/eos/eot/unknown/padding ids, add_bos_token,
// add_eos_token and add_space_prefix, validates them (slice lengths agree,
// ids in range, merges well formed) and calls New, which tests can call
// directly with plain slices in a Config.
//
// Two models are implemented:
//
//   - "llama": SentencePiece-style BPE with scores (llama.cpp's
//     llm_tokenizer_spm). The text gets a leading space when
//     add_space_prefix (default true) and the previous fragment was a
//     special token or the start, spaces become "▁" (U+2581), the text is
//     split into UTF-8 characters, and the adjacent pair whose
//     concatenation is a token with the highest score (leftmost on ties)
//     is merged repeatedly, with a heap of candidate pairs: O(n log n).
//     Merged symbols are tokens by construction; a single character that
//     is not a token becomes byte tokens "<0xNN>" if the vocabulary has
//     them (or single-byte tokens, as llama.cpp's byte_to_token), else
//     one <unk> (llama.cpp would throw here).
//
//   - "gpt2": byte-level BPE (llama.cpp's llm_tokenizer_bpe). The text is
//     split by a hand-written pre-tokenizer (Go's regexp has no
//     look-ahead), each word's bytes are mapped to printable runes by the
//     GPT-2 byte-to-unicode table (ByteToUnicode), and adjacent symbols
//     are merged by lowest rank in tokenizer.ggml.merges ("a b" lines),
//     again with a heap. A final symbol that is not a token is emitted
//     rune by rune (<unk>, or nothing, for runes that are not tokens).
//     The pre-tokenizer is chosen by tokenizer.ggml.pre (below).
//
// # Pre-tokenizers
//
// The splitters are hand-written state machines following llama.cpp's
// unicode_regex_split_custom_gpt2 and unicode_regex_split_custom_llama3.
// "default", "gpt-2", "" (absent) and any name not listed split as the
// GPT-2 regex:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// "llama3" and "llama-bpe" split as the llama-3 regex, and use llama-3's
// ignore_merges (a word that is a whole token is taken as is):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// "qwen2" (also "qwen2.5", "qwen-2.5", "deepseek-r1-qwen") splits as
// llama3 but with \p{N} (one digit per word), without ignore_merges.
//
// Letters, numbers and white space are Go's unicode.IsLetter,
// unicode.IsNumber and unicode.IsSpace, which may differ from llama.cpp's
// own tables for rare code points; unassigned code points count as
// punctuation here (llama.cpp makes each its own word).
//
// # Special tokens
//
// Special tokens (control, user-defined and unknown types) are split out
// of the text before either model runs: user-defined tokens always,
// control tokens only with EncodeOptions.ParseSpecial, as llama.cpp's
// tokenizer_st_partition does for chat templates. Matching here is
// leftmost-longest in one pass (llama.cpp matches the longest special
// token first over the whole text; the two differ only for overlapping
// special tokens).
//
// # Decoding
//
// Decode and the incremental Decoder map each token to its bytes: "▁"
// back to a space (llama), byte tokens to their byte, GPT-2 runes back to
// bytes (gpt2), control tokens to nothing unless rendering is asked.
// When add_space_prefix is set, the leading space of the first rendered
// piece is dropped (unless DecodeOptions.KeepSpace), so Decode(Encode(s))
// == s for text the vocabulary covers. The Decoder returns only
// complete UTF-8: a partial multi-byte sequence from byte tokens is held
// back until it completes, and bytes that can no longer form a valid
// sequence become U+FFFD (one per byte, as Go's utf8 package counts
// them); Flush ends the stream.
//
// Not implemented: llama.cpp's clean_spaces on decode (gpt2 "default"
// removes the space before punctuation in detokenized text), the
// remove_extra_whitespaces normalization, lstrip/rstrip token attributes,
// UGM/WPM/RWKV vocabularies and the other pre-tokenizers (deepseek,
// falcon, starcoder, …; an unknown name falls back to "default").
package tokenizer
