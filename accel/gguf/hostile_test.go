package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// hdr builds GGUF bytes by hand for hostile-header tests.
type hdr struct{ bytes.Buffer }

func (h *hdr) u32(v uint32) *hdr { h.Write(binary.LittleEndian.AppendUint32(nil, v)); return h }
func (h *hdr) u64(v uint64) *hdr { h.Write(binary.LittleEndian.AppendUint64(nil, v)); return h }
func (h *hdr) str(s string) *hdr { h.u64(uint64(len(s))); h.WriteString(s); return h }
func (h *hdr) pad(n int) *hdr    { h.Write(make([]byte, n)); return h }

func start(tensors, kvs uint64) *hdr {
	h := &hdr{}
	h.WriteString("GGUF")
	return h.u32(3).u64(tensors).u64(kvs)
}

// tensor appends a tensor info.
func (h *hdr) tensor(name string, typ uint32, off uint64, dims ...uint64) *hdr {
	h.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		h.u64(d)
	}
	return h.u32(typ).u64(off)
}

func nestedArrays(depth int) *hdr {
	h := start(0, 1).str("n").u32(uint32(ValueArray))
	for range depth - 1 {
		h.u32(uint32(ValueArray)).u64(1)
	}
	return h.u32(uint32(ValueUint8)).u64(1).pad(1)
}

func TestHostile(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte("GGML"), make([]byte, 100)...), "bad magic"},
		{"version 1", (&hdr{}).pad(0).withMagic().u32(1).u64(0).u64(0).Bytes(), "unsupported version 1"},
		{"version 4", (&hdr{}).withMagic().u32(4).u64(0).u64(0).Bytes(), "unsupported version 4"},
		{"big endian", (&hdr{}).withMagic().u32(3 << 24).u64(0).u64(0).Bytes(), "big-endian"},
		{"huge kv count", start(0, 1<<60).pad(76).Bytes(), "metadata count 1152921504606846976 cannot fit"},
		{"huge tensor count", start(1<<60, 0).pad(76).Bytes(), "tensor count"},
		{"huge key length", start(0, 1).u64(1 << 62).pad(60).Bytes(), "exceeds limit"},
		{"key longer than file", start(0, 1).u64(1000).pad(60).Bytes(), "exceeds the"},
		{"huge string value", start(0, 1).str("k").u32(uint32(ValueString)).u64(1 << 40).pad(8).Bytes(), "exceeds limit"},
		{"huge array count", start(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueUint64)).u64(1 << 58).pad(40).Bytes(), "array of uint64 count"},
		{"huge string array", start(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueString)).u64(1 << 61).pad(40).Bytes(), "cannot fit"},
		{"bad value type", start(0, 1).str("k").u32(13).pad(8).Bytes(), "invalid value type 13"},
		{"bad element type", start(0, 1).str("k").u32(uint32(ValueArray)).u32(99).u64(1).pad(8).Bytes(), "invalid array element type 99"},
		{"bool 2", start(0, 1).str("k").u32(uint32(ValueBool)).pad(0).withByte(2).Bytes(), "bool byte 2"},
		{"bool array 7", start(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueBool)).u64(2).withByte(1).withByte(7).Bytes(), "bool byte 7"},
		{"deep arrays", nestedArrays(MaxArrayDepth + 1).Bytes(), "nested deeper"},
		{"duplicate key", start(0, 2).str("k").u32(uint32(ValueUint8)).withByte(1).str("k").u32(uint32(ValueUint8)).withByte(1).Bytes(), "duplicate metadata key"},
		{"alignment 48", start(0, 1).str(KeyAlignment).u32(uint32(ValueUint32)).u32(48).Bytes(), "power of two"},
		{"alignment 0", start(0, 1).str(KeyAlignment).u32(uint32(ValueUint32)).u32(0).Bytes(), "power of two"},
		{"alignment string", start(0, 1).str(KeyAlignment).u32(uint32(ValueString)).str("32").Bytes(), "power of two"},
		{"n_dims 5", start(1, 0).tensor("t", 0, 0, 1, 1, 1, 1, 1).pad(64).Bytes(), "n_dims 5"},
		{"n_dims 0", start(1, 0).tensor("t", 0, 0).pad(64).Bytes(), "n_dims 0"},
		{"huge n_dims", start(1, 0).str("t").u32(0xffffffff).pad(64).Bytes(), "n_dims 4294967295"},
		{"unknown type", start(1, 0).tensor("t", 4, 0, 1).pad(64).Bytes(), "unknown tensor type 4"},
		{"type too big", start(1, 0).tensor("t", 1000, 0, 1).pad(64).Bytes(), "unknown tensor type 1000"},
		{"block multiple", start(1, 0).tensor("t", uint32(Q8_0), 0, 33).pad(64).Bytes(), "not a multiple"},
		{"q4_K block multiple", start(1, 0).tensor("t", uint32(Q4_K), 0, 2048+32, 2).pad(4800).Bytes(), "not a multiple of the q4_K block size 256"},
		{"q4_K past end", start(1, 0).tensor("t", uint32(Q4_K), 0, 256, 2).pad(31 + 287).Bytes(), "past the end"},
		{"dim overflow int64", start(1, 0).tensor("t", 0, 0, 1<<63).pad(64).Bytes(), "overflows int64"},
		{"elements overflow", start(1, 0).tensor("t", 0, 0, 1<<40, 1<<40).pad(64).Bytes(), "overflows"},
		{"bytes overflow", start(1, 0).tensor("t", 0, 0, 1<<31, 1<<31).pad(64).Bytes(), "overflows"},
		{"misaligned", start(1, 0).tensor("t", 0, 4, 1).pad(64).Bytes(), "not a multiple of the alignment 32"},
		{"past end", start(1, 0).tensor("t", 0, 0, 64).pad(64).Bytes(), "past the end"},
		{"huge offset", start(1, 0).tensor("t", 0, 1<<63, 1).pad(64).Bytes(), "past the end"},
		{"overlap", start(2, 0).tensor("a", 0, 0, 16).tensor("b", 0, 32, 16).pad(160).Bytes(), "overlaps"},
		{"same offset", start(2, 0).tensor("a", 0, 32, 1).tensor("b", 0, 32, 1).pad(160).Bytes(), "overlaps"},
		{"duplicate tensor", start(2, 0).tensor("a", 0, 0, 1).tensor("a", 0, 32, 1).pad(160).Bytes(), "duplicate tensor"},
	}
	for _, c := range cases {
		_, err := Decode(c.data)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		t.Logf("%s: %v", c.name, err)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T is not a FormatError", c.name, err)
		}
		if _, perr := Parse(bytes.NewReader(c.data), int64(len(c.data))); perr == nil || perr.Error() != err.Error() {
			t.Errorf("%s: Parse error %v differs from Decode error %v", c.name, perr, err)
		}
		// No allocation proportional to the claimed sizes.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			_, _ = Decode(c.data)
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Errorf("%s: decoding allocated %d bytes", c.name, d)
		}
	}
	// Depth MaxArrayDepth itself is fine.
	if _, err := Decode(nestedArrays(MaxArrayDepth).Bytes()); err != nil {
		t.Errorf("depth %d: %v", MaxArrayDepth, err)
	}
	// An error names the offset.
	_, err := Decode(start(1, 0).tensor("t", 0, 4, 1).pad(64).Bytes())
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Offset != 24+8+1+4+8+4 {
		t.Errorf("misaligned offset reported at %+v", fe)
	}
}

func (h *hdr) withMagic() *hdr      { h.WriteString("GGUF"); return h }
func (h *hdr) withByte(b byte) *hdr { h.WriteByte(b); return h }

// TestHugeCountsFailFast checks the example: a 100-byte file that
// claims 2^60 KVs fails with few allocations.
func TestHugeCountsFailFast(t *testing.T) {
	data := start(0, 1<<60).pad(100 - 24).Bytes()
	allocs := testing.AllocsPerRun(20, func() { _, _ = Decode(data) })
	if allocs > 10 {
		t.Errorf("%v allocations", allocs)
	}
	if _, err := Decode(data); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("want ErrUnexpectedEOF, got %v", err)
	}
}
