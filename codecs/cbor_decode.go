package codecs

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// cborReader builds the value model from a CBOR data item that the library
// has already found well-formed and within the limits. It still checks every
// bound, so a flaw in that check gives an error, never a panic.
type cborReader struct {
	data []byte
	off  int
}

// errAt returns a *DecodeError of kind at offset off.
func (r *cborReader) errAt(kind error, off int, detail string) *DecodeError {
	return &DecodeError{Codec: "cbor", Kind: kind, Offset: off, Detail: detail}
}

// head reads an initial byte and its argument. For additional information
// 31 (indefinite length, or break in major type 7) arg is 0.
func (r *cborReader) head() (major, ai byte, arg uint64, err error) {
	if r.off >= len(r.data) {
		return 0, 0, 0, r.errAt(ErrSyntax, r.off, "unexpected end of input")
	}
	ib := r.data[r.off]
	major, ai = ib>>5, ib&0x1f
	r.off++
	var n int
	switch {
	case ai < 24:
		return major, ai, uint64(ai), nil
	case ai == 31:
		return major, ai, 0, nil
	case ai > 27:
		return 0, 0, 0, r.errAt(ErrSyntax, r.off-1, "reserved additional information "+strconv.Itoa(int(ai)))
	default:
		n = 1 << (ai - 24)
	}
	if len(r.data)-r.off < n {
		return 0, 0, 0, r.errAt(ErrSyntax, r.off, "unexpected end of input")
	}
	b := r.data[r.off : r.off+n]
	r.off += n
	switch n {
	case 1:
		arg = uint64(b[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(b))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(b))
	default:
		arg = binary.BigEndian.Uint64(b)
	}
	return major, ai, arg, nil
}

// value reads one data item.
func (r *cborReader) value() (any, error) {
	start := r.off
	major, ai, arg, err := r.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case 0:
		if arg <= math.MaxInt64 {
			return int64(arg), nil
		}
		return arg, nil
	case 1:
		if arg <= math.MaxInt64 {
			return ^int64(arg), nil // -1 - arg
		}
		n := new(big.Int).SetUint64(arg)
		n.Add(n, bigOne)
		return n.Neg(n), nil
	case 2:
		b, err := r.stringBody(2, ai, arg, nil)
		if err != nil {
			return nil, err
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	case 3:
		if ai != 31 {
			return r.textBody(arg)
		}
		b, err := r.stringBody(3, ai, arg, []byte{})
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case 4:
		return r.array(ai, arg)
	case 5:
		return r.mapValue(ai, arg, start)
	case 6:
		if arg <= 3 && r.off < len(r.data) {
			if msg := tagContentError(arg, r.data[r.off]); msg != "" {
				return nil, r.errAt(ErrSyntax, start, msg)
			}
		}
		content, err := r.value()
		if err != nil {
			return nil, err
		}
		return makeTag(arg, content), nil
	}
	// Major type 7.
	switch ai {
	case 20:
		return false, nil
	case 21:
		return true, nil
	case 22:
		return nil, nil
	case 23:
		return Undefined{}, nil
	case 24:
		if arg < 32 {
			return nil, r.errAt(ErrSyntax, start, "two-byte simple value "+strconv.Itoa(int(arg))+" below 32")
		}
		return Simple(arg), nil
	case 25:
		return halfToFloat64(uint16(arg)), nil
	case 26:
		return float64(math.Float32frombits(uint32(arg))), nil
	case 27:
		return math.Float64frombits(arg), nil
	case 31:
		return nil, r.errAt(ErrSyntax, start, "unexpected break")
	}
	return Simple(ai), nil // ai < 20
}

// definiteText reads a definite-length text string.
func (r *cborReader) definiteText() (string, error) {
	_, _, n, err := r.head()
	if err != nil {
		return "", err
	}
	return r.textBody(n)
}

// textBody reads n bytes of text, copied once, straight from the input.
func (r *cborReader) textBody(n uint64) (string, error) {
	if n > uint64(len(r.data)-r.off) {
		return "", r.errAt(ErrSyntax, r.off, "unexpected end of input")
	}
	b := r.data[r.off : r.off+int(n)]
	if !utf8.Valid(b) {
		return "", r.errAt(ErrInvalidUTF8, r.off+invalidUTF8At(b), "in text string")
	}
	r.off += int(n)
	return string(b), nil
}

// stringBody reads the content of a byte (major 2) or text (major 3)
// string, definite or indefinite, appending it to buf. Text is checked for
// valid UTF-8 chunk by chunk (RFC 8949 §3.2.3: a chunk never splits a
// character). Definite byte strings are copied, never aliased to the input.
func (r *cborReader) stringBody(major, ai byte, arg uint64, buf []byte) ([]byte, error) {
	if ai != 31 {
		return r.chunk(major, arg, buf)
	}
	for {
		if r.off >= len(r.data) {
			return nil, r.errAt(ErrSyntax, r.off, "unexpected end of input")
		}
		if r.data[r.off] == 0xff {
			r.off++
			return buf, nil
		}
		at := r.off
		m, cai, n, err := r.head()
		if err != nil {
			return nil, err
		}
		if m != major || cai == 31 {
			return nil, r.errAt(ErrSyntax, at, "bad chunk in indefinite-length string")
		}
		if buf, err = r.chunk(major, n, buf); err != nil {
			return nil, err
		}
	}
}

// chunk appends the next n bytes, checking UTF-8 for text.
func (r *cborReader) chunk(major byte, n uint64, buf []byte) ([]byte, error) {
	if n > uint64(len(r.data)-r.off) {
		return nil, r.errAt(ErrSyntax, r.off, "unexpected end of input")
	}
	b := r.data[r.off : r.off+int(n)]
	if major == 3 && !utf8.Valid(b) {
		return nil, r.errAt(ErrInvalidUTF8, r.off+invalidUTF8At(b), "in text string")
	}
	r.off += int(n)
	if buf == nil && major == 2 {
		return append(make([]byte, 0, len(b)), b...), nil
	}
	return append(buf, b...), nil
}

// invalidUTF8At returns the index of the first invalid UTF-8 byte in b.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// remaining returns how many more items of at least one byte each the
// input can hold, to bound preallocation.
func (r *cborReader) remaining(n uint64, per int) int {
	left := uint64((len(r.data) - r.off) / per)
	return int(min(n, left))
}

// array reads the elements of an array.
func (r *cborReader) array(ai byte, n uint64) (any, error) {
	if ai == 31 {
		a := []any{}
		for {
			if r.off < len(r.data) && r.data[r.off] == 0xff {
				r.off++
				return a, nil
			}
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	}
	a := make([]any, 0, r.remaining(n, 1))
	for range n {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	return a, nil
}

// mapValue reads the pairs of a map. It returns map[string]any when every
// key is a text string, else a Map sorted in deterministic key order.
func (r *cborReader) mapValue(ai byte, n uint64, start int) (any, error) {
	indef := ai == 31
	var m map[string]any
	if indef {
		m = map[string]any{}
	} else {
		m = make(map[string]any, r.remaining(n, 2))
	}
	var pairs Map // non-nil once a key that is not text was seen
	for i := uint64(0); indef || i < n; i++ {
		if indef && r.off < len(r.data) && r.data[r.off] == 0xff {
			r.off++
			break
		}
		keyAt := r.off
		if pairs == nil && r.off < len(r.data) && r.data[r.off]>>5 == 3 && r.data[r.off]&0x1f != 31 {
			// Fast path for a definite text key: no boxing.
			s, err := r.definiteText()
			if err != nil {
				return nil, err
			}
			if _, dup := m[s]; dup {
				return nil, r.errAt(ErrDuplicateKey, keyAt, "key "+quote(s))
			}
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			m[s] = v
			continue
		}
		k, err := r.value()
		if err != nil {
			return nil, err
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		if pairs == nil {
			if s, ok := k.(string); ok {
				if _, dup := m[s]; dup {
					return nil, r.errAt(ErrDuplicateKey, keyAt, "key "+quote(s))
				}
				m[s] = v
				continue
			}
			pairs = make(Map, 0, len(m)+1)
			for ks, vs := range m {
				pairs = append(pairs, Pair{ks, vs})
			}
		}
		pairs = append(pairs, Pair{k, v})
	}
	if pairs == nil {
		return m, nil
	}
	sorted, _, err := sortedPairs(pairs, "cbor")
	if err != nil {
		kind, detail := ErrSyntax, err.Error()
		var ee *encodeError
		if errors.As(err, &ee) {
			kind, detail = ee.kind, ee.detail
		}
		return nil, r.errAt(kind, start, detail+" in the map")
	}
	return sorted, nil
}

// halfToFloat64 converts an IEEE 754 half-precision value to float64,
// keeping NaN payloads and the sign of zero.
func halfToFloat64(h uint16) float64 {
	sign := uint64(h>>15) << 63
	exp := (h >> 10) & 0x1f
	mant := uint64(h & 0x3ff)
	switch exp {
	case 0: // zero or subnormal: mant * 2^-24
		f := float64(mant) / (1 << 24)
		return math.Float64frombits(math.Float64bits(f) | sign)
	case 0x1f: // Inf or NaN
		return math.Float64frombits(sign | 0x7ff0000000000000 | mant<<42)
	}
	return math.Float64frombits(sign | uint64(exp-15+1023)<<52 | mant<<42)
}
