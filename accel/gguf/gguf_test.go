package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"
)

var update = flag.Bool("update", false, "rewrite testdata/*.gguf golden files")

// vocab holds strings a tokenizer vocabulary must keep byte-exact.
var vocab = []string{"", " ", "\n", "\t", "  a  ", "▁", "▁the", " hello\n", "\x00", "\xff\xfe", "<0x0A>", "é"}

// sampleMetadata covers every value type, nested arrays and awkward strings.
func sampleMetadata(t testing.TB, alignment uint32) *Metadata {
	t.Helper()
	var md Metadata
	md.Set("general.architecture", StringValue("llama"))
	if alignment != 0 {
		md.Set(KeyAlignment, Uint32Value(alignment))
	}
	md.Set("u8", Uint8Value(200))
	md.Set("i8", Int8Value(-100))
	md.Set("u16", Uint16Value(60000))
	md.Set("i16", Int16Value(-30000))
	md.Set("u32", Uint32Value(4000000000))
	md.Set("i32", Int32Value(-2000000000))
	md.Set("f32", Float32Value(0.1))
	md.Set("bool.t", BoolValue(true))
	md.Set("bool.f", BoolValue(false))
	md.Set("u64", Uint64Value(math.MaxUint64))
	md.Set("i64", Int64Value(math.MinInt64))
	md.Set("f64", Float64Value(-1e300))
	md.Set("str.ws", StringValue("  leading and trailing \n"))
	md.Set("str.empty", StringValue(""))
	md.Set("tokenizer.ggml.tokens", StringsValue(vocab))
	md.Set("tokenizer.ggml.scores", Float32sValue([]float32{0, -1.5, float32(math.Inf(-1)), 3}))
	md.Set("tokenizer.ggml.token_type", Int32sValue([]int32{1, 2, 3, -7}))
	inner1, err := NewArray(ValueUint16, []Value{Uint16Value(1), Uint16Value(2)})
	if err != nil {
		t.Fatal(err)
	}
	inner2 := NewStringArray([]string{" x", ""})
	empty, err := NewArray(ValueBool, nil)
	if err != nil {
		t.Fatal(err)
	}
	nested, err := NewArray(ValueArray, []Value{ArrayValue(inner1), ArrayValue(inner2), ArrayValue(empty)})
	if err != nil {
		t.Fatal(err)
	}
	md.Set("nested", ArrayValue(nested))
	bools, err := NewArray(ValueBool, []Value{BoolValue(true), BoolValue(false)})
	if err != nil {
		t.Fatal(err)
	}
	md.Set("bools", ArrayValue(bools))
	f64s, err := NewArray(ValueFloat64, []Value{Float64Value(1.25), Float64Value(math.NaN())})
	if err != nil {
		t.Fatal(err)
	}
	md.Set("f64s", ArrayValue(f64s))
	return &md
}

// sampleTensors returns tensors of several types with recognisable bytes.
func sampleTensors() []Tensor {
	f32 := make([]byte, 4*3*2)
	for i := range f32 {
		f32[i] = byte(i + 1)
	}
	f16 := make([]byte, 2*5)
	for i := range f16 {
		f16[i] = byte(0x80 + i)
	}
	q8 := make([]byte, 2*Q8_0BlockBytes)
	for i := range q8 {
		q8[i] = byte(0x40 + i)
	}
	q4k := bytes.Repeat([]byte{0xAB}, 144)
	return []Tensor{
		{Name: "a.f32", Dims: []uint64{3, 2}, Type: F32, Data: f32},
		{Name: "b.f16", Dims: []uint64{5}, Type: F16, Data: f16},
		{Name: "c.q8_0", Dims: []uint64{32, 1, 2, 1}, Type: Q8_0, Data: q8},
		{Name: "d.q4_k", Dims: []uint64{256}, Type: Q4_K, Data: q4k},
		{Name: "e.empty", Dims: []uint64{0, 3}, Type: F32, Data: []byte{}},
	}
}

func encode(t testing.TB, md *Metadata, tensors []Tensor) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, md, tensors); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// reencode writes a decoded file back out.
func reencode(t testing.TB, f *File) ([]byte, error) {
	t.Helper()
	var ts []Tensor
	for _, ti := range f.Tensors {
		d, err := f.TensorData(ti.Name)
		if err != nil {
			return nil, err
		}
		ts = append(ts, Tensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: d})
	}
	var b bytes.Buffer
	err := Encode(&b, &f.Metadata, ts)
	return b.Bytes(), err
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 32, 64, 1, 4096} {
		md := sampleMetadata(t, align)
		tensors := sampleTensors()
		data := encode(t, md, tensors)
		f, err := Decode(data)
		if err != nil {
			t.Fatalf("align %d: %v", align, err)
		}
		wantAlign := uint64(align)
		if align == 0 {
			wantAlign = DefaultAlignment
		}
		if f.Version != 3 || f.Alignment != wantAlign || f.DataOffset%int64(wantAlign) != 0 {
			t.Fatalf("align %d: version %d alignment %d data offset %d", align, f.Version, f.Alignment, f.DataOffset)
		}
		if len(data)%int(wantAlign) != 0 {
			t.Errorf("align %d: file size %d not padded", align, len(data))
		}
		// Metadata order and types survive.
		if f.Metadata.Len() != md.Len() {
			t.Fatalf("got %d KVs, want %d", f.Metadata.Len(), md.Len())
		}
		for i, kv := range md.KVs() {
			got := f.Metadata.KVs()[i]
			if got.Key != kv.Key || got.Value.Type() != kv.Value.Type() || got.Value.String() != kv.Value.String() {
				t.Errorf("KV %d: got %s=%v (%v), want %s=%v (%v)", i, got.Key, got.Value, got.Value.Type(), kv.Key, kv.Value, kv.Value.Type())
			}
		}
		// Tensors: aligned, sized, zero-copy, equal to what was written.
		if len(f.Tensors) != len(tensors) {
			t.Fatalf("got %d tensors", len(f.Tensors))
		}
		for i, want := range tensors {
			ti := f.Tensors[i]
			if ti.Name != want.Name || !slices.Equal(ti.Dims, want.Dims) || ti.Type != want.Type || ti.Size != uint64(len(want.Data)) {
				t.Errorf("tensor %d: %+v", i, ti)
			}
			if ti.Offset%wantAlign != 0 {
				t.Errorf("tensor %q offset %d not aligned to %d", ti.Name, ti.Offset, wantAlign)
			}
			got, err := f.TensorData(want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Data) {
				t.Errorf("tensor %q data differs", want.Name)
			}
			if len(got) > 0 && unsafe.Pointer(&got[0]) != unsafe.Pointer(&data[f.DataOffset+int64(ti.Offset)]) {
				t.Errorf("tensor %q data was copied", want.Name)
			}
		}
		// Re-encoding the decoded file reproduces it byte for byte.
		again, err := reencode(t, f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("align %d: re-encoded file differs", align)
		}
		// The ReaderAt path agrees.
		p, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		again, err = reencode(t, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("align %d: Parse then re-encode differs", align)
		}
	}
}

func TestMetadataHelpers(t *testing.T) {
	f, err := Decode(encode(t, sampleMetadata(t, 0), nil))
	if err != nil {
		t.Fatal(err)
	}
	md := &f.Metadata
	toks, err := md.Strings("tokenizer.ggml.tokens")
	if err != nil || !slices.Equal(toks, vocab) {
		t.Errorf("tokens = %q, %v; want %q", toks, err, vocab)
	}
	scores, err := md.Float32s("tokenizer.ggml.scores")
	if err != nil || len(scores) != 4 || scores[1] != -1.5 || !math.IsInf(float64(scores[2]), -1) {
		t.Errorf("scores = %v, %v", scores, err)
	}
	types, err := md.Int32s("tokenizer.ggml.token_type")
	if err != nil || !slices.Equal(types, []int32{1, 2, 3, -7}) {
		t.Errorf("token types = %v, %v", types, err)
	}
	if s, err := md.String("str.ws"); err != nil || s != "  leading and trailing \n" {
		t.Errorf("str.ws = %q, %v", s, err)
	}
	if u, err := md.Uint("u32"); err != nil || u != 4000000000 {
		t.Errorf("u32 = %d, %v", u, err)
	}
	if u, err := md.Uint("u64"); err != nil || u != math.MaxUint64 {
		t.Errorf("u64 = %d, %v", u, err)
	}
	if i, err := md.Int("i64"); err != nil || i != math.MinInt64 {
		t.Errorf("i64 = %d, %v", i, err)
	}
	if i, err := md.Int("u16"); err != nil || i != 60000 {
		t.Errorf("u16 as int = %d, %v", i, err)
	}
	if f, err := md.Float("f32"); err != nil || float32(f) != 0.1 {
		t.Errorf("f32 = %v, %v", f, err)
	}
	if b, err := md.Bool("bool.t"); err != nil || !b {
		t.Errorf("bool.t = %v, %v", b, err)
	}
	a, err := md.Array("nested")
	if err != nil || a.Len() != 3 || a.Elem() != ValueArray {
		t.Fatalf("nested = %v, %v", a, err)
	}
	in, ok := a.Index(1).Array()
	if s, _ := in.Strings(); !ok || !slices.Equal(s, []string{" x", ""}) {
		t.Errorf("nested[1] = %q", s)
	}
	if v, _ := a.Index(0).Array(); v.Index(1).String() != "2" {
		t.Errorf("nested[0][1] = %v", v.Index(1))
	}
	if _, err := md.Uint("i8"); !errors.Is(err, ErrValueType) {
		t.Errorf("Uint of negative int8: %v", err)
	}
	if _, err := md.Int("u64"); !errors.Is(err, ErrValueType) {
		t.Errorf("Int of MaxUint64: %v", err)
	}
	if _, err := md.String("u8"); !errors.Is(err, ErrValueType) {
		t.Errorf("String of u8: %v", err)
	}
	if _, err := md.Strings("tokenizer.ggml.scores"); !errors.Is(err, ErrValueType) {
		t.Errorf("Strings of scores: %v", err)
	}
	if _, err := md.String("missing"); !errors.Is(err, ErrNoKey) {
		t.Errorf("missing key: %v", err)
	}
}

func TestGolden(t *testing.T) {
	md := sampleMetadata(t, 0)
	data := encode(t, md, sampleTensors())
	path := filepath.Join("testdata", "tiny.gguf")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("writer output differs from %s (%d vs %d bytes); run go test -update if the change is intended", path, len(data), len(want))
	}
	// The header starts as the spec says.
	if string(want[:4]) != "GGUF" || binary.LittleEndian.Uint32(want[4:]) != 3 ||
		binary.LittleEndian.Uint64(want[8:]) != uint64(len(sampleTensors())) ||
		binary.LittleEndian.Uint64(want[16:]) != uint64(md.Len()) {
		t.Errorf("bad header % x", want[:24])
	}
}

func TestOpen(t *testing.T) {
	data := encode(t, sampleMetadata(t, 64), sampleTensors())
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range sampleTensors() {
		got, err := f.TensorData(want.Name)
		if err != nil || !bytes.Equal(got, want.Data) {
			t.Errorf("tensor %q: %v", want.Name, err)
		}
	}
	if _, err := f.TensorData("nope"); err == nil {
		t.Error("missing tensor: no error")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.TensorData("a.f32"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}

	for _, bad := range [][]byte{nil, []byte("GG"), data[:40]} {
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); err == nil {
			t.Errorf("Open of %d bytes: no error", len(bad))
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestParseLarge exercises the ReaderAt window with metadata larger than it.
func TestParseLarge(t *testing.T) {
	var md Metadata
	toks := make([]string, 30000)
	for i := range toks {
		toks[i] = string(rune('a'+i%26)) + " \n"[i%2:i%2+1] + string(make([]byte, i%7))
	}
	md.Set("tokenizer.ggml.tokens", StringsValue(toks))
	md.Set("big", StringValue(string(bytes.Repeat([]byte("xy "), 50000))))
	data := encode(t, &md, sampleTensors())
	f, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Metadata.Strings("tokenizer.ggml.tokens")
	if err != nil || !slices.Equal(got, toks) {
		t.Fatalf("tokens differ: %v", err)
	}
	d, err := f.TensorData("c.q8_0")
	if err != nil || !bytes.Equal(d, sampleTensors()[2].Data) {
		t.Fatalf("tensor data: %v", err)
	}
}

// TestTruncated decodes every prefix of a small file: each must fail with a
// FormatError unless it still holds all tensor data.
func TestTruncated(t *testing.T) {
	data := encode(t, sampleMetadata(t, 32), sampleTensors())
	full, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for _, ti := range full.Tensors {
		end = max(end, full.DataOffset+int64(ti.Offset+ti.Size))
	}
	for n := range len(data) {
		for _, parse := range []func([]byte) (*File, error){
			Decode,
			func(b []byte) (*File, error) { return Parse(bytes.NewReader(b), int64(len(b))) },
		} {
			_, err := parse(data[:n])
			if int64(n) >= end {
				if err != nil {
					t.Fatalf("prefix %d (data ends at %d): %v", n, end, err)
				}
				continue
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("prefix %d: got %v, want a FormatError", n, err)
			}
		}
	}
}

func TestWriterErrors(t *testing.T) {
	okData := make([]byte, 8)
	cases := []struct {
		name    string
		md      func() *Metadata
		tensors []Tensor
	}{
		{"duplicate tensor", nil, []Tensor{{Name: "x", Dims: []uint64{2}, Type: F32, Data: okData}, {Name: "x", Dims: []uint64{2}, Type: F32, Data: okData}}},
		{"five dims", nil, []Tensor{{Name: "x", Dims: []uint64{1, 1, 1, 1, 2}, Type: F32, Data: okData}}},
		{"no dims", nil, []Tensor{{Name: "x", Type: F32, Data: okData}}},
		{"block multiple", nil, []Tensor{{Name: "x", Dims: []uint64{33}, Type: Q8_0, Data: okData}}},
		{"unknown type", nil, []Tensor{{Name: "x", Dims: []uint64{2}, Type: Type(4), Data: okData}}},
		{"short data", nil, []Tensor{{Name: "x", Dims: []uint64{3}, Type: F32, Data: okData}}},
		{"long data", nil, []Tensor{{Name: "x", Dims: []uint64{1}, Type: F32, Data: okData}}},
		{"long data spills", nil, []Tensor{{Name: "x", Dims: []uint64{1}, Type: F32, Data: okData}, {Name: "y", Dims: []uint64{1}, Type: F32, Data: okData[:4]}}},
		{"no data", nil, []Tensor{{Name: "x", Dims: []uint64{2}, Type: F32}}},
		{"long name", nil, []Tensor{{Name: string(bytes.Repeat([]byte("n"), 64)), Dims: []uint64{2}, Type: F32, Data: okData}}},
		{"overflow", nil, []Tensor{{Name: "x", Dims: []uint64{1 << 40, 1 << 40}, Type: F32, Data: okData}}},
		{"alignment type", func() *Metadata { var m Metadata; m.Set(KeyAlignment, Uint64Value(32)); return &m }, nil},
		{"alignment value", func() *Metadata { var m Metadata; m.Set(KeyAlignment, Uint32Value(48)); return &m }, nil},
	}
	for _, c := range cases {
		var md *Metadata
		if c.md != nil {
			md = c.md()
		}
		if err := Encode(io.Discard, md, c.tensors); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

// TestWriterStreaming writes tensor data through WriteData in small chunks.
func TestWriterStreaming(t *testing.T) {
	want := sampleTensors()
	var ts []Tensor
	for _, x := range want {
		data := x.Data
		x.WriteData = func(w io.Writer) error {
			for i := 0; i < len(data); i += 3 {
				if _, err := w.Write(data[i:min(i+3, len(data))]); err != nil {
					return err
				}
			}
			return nil
		}
		x.Data = nil
		ts = append(ts, x)
	}
	md := sampleMetadata(t, 64)
	if got := encode(t, md, ts); !bytes.Equal(got, encode(t, md, want)) {
		t.Fatal("streamed output differs")
	}
}

// shortReader claims more bytes than it has.
type shortReader struct{ r *bytes.Reader }

func (s shortReader) ReadAt(p []byte, off int64) (int, error) { return s.r.ReadAt(p, off) }

func TestParseLyingSize(t *testing.T) {
	data := encode(t, sampleMetadata(t, 0), sampleTensors())
	f, err := Parse(shortReader{bytes.NewReader(data[:len(data)-200])}, int64(len(data)))
	if err == nil {
		_, err = f.TensorData("d.q4_k")
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want unexpected EOF", err)
	}
}
