package codecs

import "testing"

// benchFrames are a typical device telemetry frame and an RPC request.
var benchFrames = []struct {
	name  string
	frame map[string]any
}{
	{"telemetry", map[string]any{"type": "telemetry", "t": int64(1732700000), "temp": 21.5, "hum": int64(40)}},
	{"rpc", map[string]any{
		"type":   "rpc",
		"id":     "6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60",
		"method": "setTarget",
		"args":   []any{"kitchen", 21.5},
	}},
}

func benchCodecs(b *testing.B) []Codec {
	return []Codec{mustCBOR(b, Limits{}), mustJSON(b, Limits{})}
}

// TestWireSizes logs the bytes on the wire of the benchmark frames.
func TestWireSizes(t *testing.T) {
	for _, f := range benchFrames {
		for _, c := range []Codec{mustCBOR(t, Limits{}), mustJSON(t, Limits{})} {
			data, err := c.Marshal(f.frame)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%-9s %-4s %3d bytes", f.name, c.Name(), len(data))
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, f := range benchFrames {
		for _, c := range benchCodecs(b) {
			b.Run(f.name+"/"+c.Name(), func(b *testing.B) {
				var n int
				b.ReportAllocs()
				for b.Loop() {
					data, err := c.Marshal(f.frame)
					if err != nil {
						b.Fatal(err)
					}
					n = len(data)
				}
				b.ReportMetric(float64(n), "bytes")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, f := range benchFrames {
		for _, c := range benchCodecs(b) {
			data, err := c.Marshal(f.frame)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(f.name+"/"+c.Name(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := c.Unmarshal(data); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data)), "bytes")
			})
		}
	}
}
