package gguf

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic or
// over-allocate; whatever decodes must agree with Parse, give tensor data of
// the declared size, and survive a write/read round trip.
func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sampleMetadata(f, 0), sampleTensors()))
	f.Add(encode(f, sampleMetadata(f, 64), sampleTensors()[:2]))
	f.Add(encode(f, &Metadata{}, nil))
	f.Add(nestedArrays(3).Bytes())
	f.Add(start(2, 0).tensor("a", 0, 0, 16).tensor("b", 0, 64, 16).pad(200).Bytes())
	f.Add(start(0, 1<<60).pad(76).Bytes())
	f.Add(start(1, 0).tensor("q", uint32(Q4_K), 0, 256, 2).pad(31 + 288).Bytes())
	f.Add(start(1, 0).tensor("q6", uint32(Q6_K), 0, 256, 2).pad(31 + 420).Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		p, perr := Parse(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (perr == nil) {
			t.Fatalf("Decode error %v, Parse error %v", err, perr)
		}
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			d, err := file.TensorData(ti.Name)
			if err != nil || uint64(len(d)) != ti.Size {
				t.Fatalf("tensor %q: %d bytes, %v", ti.Name, len(d), err)
			}
			pd, err := p.TensorData(ti.Name)
			if err != nil || !bytes.Equal(d, pd) {
				t.Fatalf("tensor %q: Parse data differs: %v", ti.Name, err)
			}
		}
		// Re-encode: the writer is stricter (name length, uint32
		// alignment), so only check files it accepts. A file without
		// tensors may claim a huge alignment that the writer would pad.
		if file.Alignment > 1<<16 {
			return
		}
		out, err := reencode(t, file)
		if err != nil {
			return
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		out2, err := reencode(t, again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("second round trip differs: %v", err)
		}
	})
}
