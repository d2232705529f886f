// Package gguf reads and writes GGUF model files (ggml's format, spec in
// ggml docs/gguf.md), byte-exact: strings such as tokenizer vocabularies
// keep their whitespace and any non-UTF-8 bytes.
//
// # Reading
//
// Open memory-maps a file (read-only, off the Go heap) and decodes its
// header; Decode does the same for bytes in memory and Parse for an
// io.ReaderAt. A GGUF file is, in order and little-endian:
//
//  1. magic "GGUF", u32 version (2 and 3 are read; 3 is written), u64
//     tensor count, u64 metadata count;
//  2. metadata pairs: a string key (u64 length + bytes), a u32 ValueType and
//     the value; arrays carry an element type and a u64 count and may nest;
//  3. tensor infos: name, u32 n_dims (1..4), u64 dims (dims[0] contiguous),
//     u32 Type, u64 offset relative to the data section;
//  4. padding to general.alignment (default 32, a power of two), then the
//     data section, each tensor at an aligned offset.
//
// The decoder trusts nothing: every count and length is checked against the
// bytes left before anything is allocated, strings are capped at
// MaxStringLen, arrays at MaxArrayDepth, element counts and byte sizes are
// checked for overflow, and tensors must be aligned, inside the file and
// must not overlap. Failures are *FormatError values naming the offset.
//
// The resulting File holds the ordered Metadata (with typed helpers such as
// String, Uint, Strings for tokenizer.ggml.tokens and Float32s for scores),
// the Tensors table, Alignment and DataOffset. TensorData returns a tensor's
// bytes as a view into the mapping (no copy); Close unmaps.
//
// # Writing
//
// Encode writes a GGUF v3 file from Metadata and a list of Tensor values
// whose data is given as bytes or streamed by a callback, so a generator can
// write a multi-gigabyte model in bounded memory. Writer is the streaming
// form underneath: NewWriter writes the header, Write takes tensor data in
// order and inserts the alignment padding, Close checks that every tensor
// was complete. The output depends only on the input.
//
// # Element types
//
// Type lists ggml's tensor types with their block sizes; every listed type
// parses, whether or not an engine can run it. Float32ToF16, F16ToFloat32,
// QuantizeQ8_0, DequantizeQ8_0, QuantizeQ4_K and DequantizeQ4_K are scalar
// references, matching ggml's, that faster kernels are tested against
// (q4_k.go documents the Q4_K super-block layout); DequantizeQ6_K is
// ggml's too, QuantizeQ6_K a quantizer of our own (q6_k.go).
package gguf
