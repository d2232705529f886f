// Package units holds small value types shared by configuration structs:
// byte sizes written the way people write them ("256KiB", "1GiB").
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes. In text it is a plain integer or an
// integer followed by B, KiB, MiB, GiB or TiB (powers of 1024; KB, MB and GB
// are read as the same powers of 1024, as most people who write them mean).
type ByteSize int64

// The units ByteSize understands.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

var suffixes = []struct {
	s string
	n ByteSize
}{
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", TiB}, {"GB", GiB}, {"MB", MiB}, {"KB", KiB},
	{"T", TiB}, {"G", GiB}, {"M", MiB}, {"K", KiB}, {"B", 1},
}

// ParseByteSize reads a size such as "4096", "256KiB" or "1 GiB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := ByteSize(1)
	for _, suf := range suffixes {
		if len(t) > len(suf.s) && strings.EqualFold(t[len(t)-len(suf.s):], suf.s) {
			t, mult = strings.TrimSpace(t[:len(t)-len(suf.s)]), suf.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want a non-negative integer with an optional unit (B, KiB, MiB, GiB, TiB)", s)
	}
	if n > 0 && int64(mult) > (1<<63-1)/n {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(n) * mult, nil
}

// String writes the size with the largest unit that divides it exactly.
func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		n ByteSize
	}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if b >= u.n && b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
