// Package codecs encodes and decodes frames as JSON and CBOR with size and
// depth limits. It is pure (no I/O) and a leaf: every stage may import it,
// it imports none of them. Golden frames in codecs/testdata are shared with
// firmware-examples.
package codecs
