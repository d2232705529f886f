package units

import "testing"

func TestParseByteSize(t *testing.T) {
	cases := map[string]ByteSize{
		"0": 0, "4096": 4096, "256KiB": 256 * KiB, "4 MiB": 4 * MiB, "1GiB": GiB, "1gb": GiB, "10B": 10, "2T": 2 * TiB,
	}
	for in, want := range cases {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "KiB", "1.5MiB", "abc", "99999999999TiB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded", bad)
		}
	}
}

func TestByteSizeRoundTrip(t *testing.T) {
	for _, v := range []ByteSize{0, 1, 1000, KiB, 256 * KiB, 4 * MiB, GiB + 1, 3 * TiB} {
		text, _ := v.MarshalText()
		var back ByteSize
		if err := back.UnmarshalText(text); err != nil || back != v {
			t.Errorf("%d -> %q -> %d, %v", v, text, back, err)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"0", "256KiB", "4 MiB", "1GiB", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("negative size %d from %q", v, s)
		}
		back, err := ParseByteSize(v.String())
		if err != nil || back != v {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, v, v.String(), back, err)
		}
	})
}
