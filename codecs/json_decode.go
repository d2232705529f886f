package codecs

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader parses one JSON text (RFC 8259) into the value model, enforcing
// the limits as it goes and reading the JSON form of CBOR values (see
// jsonform.go) bottom-up: an object is turned into the value it stands for
// as soon as its closing brace is read.
type jsonReader struct {
	data  []byte
	off   int
	lim   Limits
	depth int
}

func (r *jsonReader) errAt(kind error, off int, detail string) *DecodeError {
	return &DecodeError{Codec: "json", Kind: kind, Offset: off, Detail: detail}
}

func (r *jsonReader) skipWS() {
	for r.off < len(r.data) {
		switch r.data[r.off] {
		case ' ', '\t', '\n', '\r':
			r.off++
		default:
			return
		}
	}
}

// top parses the whole input as one value.
func (r *jsonReader) top() (any, error) {
	r.skipWS()
	v, err := r.value(false)
	if err != nil {
		return nil, err
	}
	r.skipWS()
	if r.off != len(r.data) {
		return nil, r.errAt(ErrSyntax, r.off, "data after the top-level value")
	}
	return v, nil
}

// value parses one value. literal is true for the object under a "$object"
// key, whose own keys are not read as the JSON form (docs/protocol.md §5.9).
func (r *jsonReader) value(literal bool) (any, error) {
	if r.off >= len(r.data) {
		return nil, r.errAt(ErrSyntax, r.off, "unexpected end of input")
	}
	switch c := r.data[r.off]; {
	case c == '{':
		return r.object(literal)
	case c == '[':
		return r.array()
	case c == '"':
		return r.str()
	case c == 't':
		return true, r.word("true")
	case c == 'f':
		return false, r.word("false")
	case c == 'n':
		return nil, r.word("null")
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	default:
		return nil, r.errAt(ErrSyntax, r.off, "unexpected character "+strconv.QuoteRune(rune(c)))
	}
}

func (r *jsonReader) word(w string) error {
	if len(r.data)-r.off < len(w) || string(r.data[r.off:r.off+len(w)]) != w {
		return r.errAt(ErrSyntax, r.off, "invalid literal")
	}
	r.off += len(w)
	return nil
}

// enter counts one more level of nesting at offset start.
func (r *jsonReader) enter(start int) error {
	r.depth++
	if r.depth > r.lim.MaxDepth {
		return r.errAt(ErrTooDeep, start, "limit "+strconv.Itoa(r.lim.MaxDepth))
	}
	return nil
}

func (r *jsonReader) object(literal bool) (any, error) {
	start := r.off
	if err := r.enter(start); err != nil {
		return nil, err
	}
	r.off++
	m := map[string]any{}
	dollar := false
	r.skipWS()
	if r.off < len(r.data) && r.data[r.off] == '}' {
		r.off++
		r.depth--
		return m, nil
	}
	for {
		r.skipWS()
		if r.off >= len(r.data) || r.data[r.off] != '"' {
			return nil, r.errAt(ErrSyntax, r.off, "expected a string key")
		}
		keyAt := r.off
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, r.errAt(ErrDuplicateKey, keyAt, "key "+quote(k))
		}
		if len(m) >= r.lim.MaxItems {
			return nil, r.errAt(ErrTooManyItems, keyAt, "object longer than "+strconv.Itoa(r.lim.MaxItems))
		}
		r.skipWS()
		if r.off >= len(r.data) || r.data[r.off] != ':' {
			return nil, r.errAt(ErrSyntax, r.off, "expected ':'")
		}
		r.off++
		r.skipWS()
		v, err := r.value(k == "$object")
		if err != nil {
			return nil, err
		}
		m[k] = v
		if len(k) > 0 && k[0] == '$' {
			dollar = true
		}
		r.skipWS()
		if r.off >= len(r.data) {
			return nil, r.errAt(ErrSyntax, r.off, "unexpected end of input")
		}
		c := r.data[r.off]
		r.off++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, r.errAt(ErrSyntax, r.off-1, "expected ',' or '}'")
		}
	}
	r.depth--
	if literal || !dollar {
		return m, nil
	}
	v, err := finishObject(m)
	if err != nil {
		return nil, formDecodeError(err, start)
	}
	return v, nil
}

// formDecodeError turns an error of the JSON form into a *DecodeError at off.
func formDecodeError(err error, off int) *DecodeError {
	e := &DecodeError{Codec: "json", Kind: ErrJSONForm, Offset: off, Detail: err.Error()}
	var fe *formError
	if errors.As(err, &fe) {
		e.Kind, e.Detail = fe.kind, fe.detail
	}
	return e
}

func (r *jsonReader) array() (any, error) {
	start := r.off
	if err := r.enter(start); err != nil {
		return nil, err
	}
	r.off++
	a := []any{}
	r.skipWS()
	if r.off < len(r.data) && r.data[r.off] == ']' {
		r.off++
		r.depth--
		return a, nil
	}
	for {
		r.skipWS()
		if len(a) >= r.lim.MaxItems {
			return nil, r.errAt(ErrTooManyItems, r.off, "array longer than "+strconv.Itoa(r.lim.MaxItems))
		}
		v, err := r.value(false)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		r.skipWS()
		if r.off >= len(r.data) {
			return nil, r.errAt(ErrSyntax, r.off, "unexpected end of input")
		}
		c := r.data[r.off]
		r.off++
		if c == ']' {
			break
		}
		if c != ',' {
			return nil, r.errAt(ErrSyntax, r.off-1, "expected ',' or ']'")
		}
	}
	r.depth--
	return a, nil
}

// str parses a string; r.off is at the opening quote.
func (r *jsonReader) str() (string, error) {
	start := r.off
	r.off++
	ascii := true
	i := r.off
	for ; i < len(r.data); i++ {
		c := r.data[i]
		if c == '"' {
			seg := r.data[r.off:i]
			if !ascii && !utf8.Valid(seg) {
				return "", r.errAt(ErrInvalidUTF8, r.off+invalidUTF8At(seg), "in string")
			}
			r.off = i + 1
			return string(seg), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	// Slow path: escapes, control characters or the end of input.
	seg := r.data[r.off:i]
	if !ascii && !utf8.Valid(seg) {
		return "", r.errAt(ErrInvalidUTF8, r.off+invalidUTF8At(seg), "in string")
	}
	buf := append(make([]byte, 0, len(seg)+16), seg...)
	for i < len(r.data) {
		c := r.data[i]
		switch {
		case c == '"':
			r.off = i + 1
			return string(buf), nil
		case c < 0x20:
			return "", r.errAt(ErrSyntax, i, "control character in string")
		case c < 0x80:
			if c != '\\' {
				buf = append(buf, c)
				i++
				continue
			}
			n, err := r.escape(i, &buf)
			if err != nil {
				return "", err
			}
			i += n
		default:
			ch, size := utf8.DecodeRune(r.data[i:])
			if ch == utf8.RuneError && size == 1 {
				return "", r.errAt(ErrInvalidUTF8, i, "in string")
			}
			buf = append(buf, r.data[i:i+size]...)
			i += size
		}
	}
	return "", r.errAt(ErrSyntax, start, "unterminated string")
}

// escape decodes the escape sequence at r.data[i] (a backslash), appends
// its UTF-8 to *buf and returns its length in the input.
func (r *jsonReader) escape(i int, buf *[]byte) (int, error) {
	if i+1 >= len(r.data) {
		return 0, r.errAt(ErrSyntax, i, "unterminated string")
	}
	var c byte
	switch r.data[i+1] {
	case '"', '\\', '/':
		c = r.data[i+1]
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
		ch, ok := hex4(r.data[i+2:])
		if !ok {
			return 0, r.errAt(ErrSyntax, i, `invalid \u escape`)
		}
		n := 6
		if utf16.IsSurrogate(ch) {
			lo, ok := rune(-1), false
			if len(r.data) >= i+12 && r.data[i+6] == '\\' && r.data[i+7] == 'u' {
				lo, ok = hex4(r.data[i+8:])
			}
			ch = utf16.DecodeRune(ch, lo)
			if !ok || ch == utf8.RuneError {
				return 0, r.errAt(ErrInvalidUTF8, i, "unpaired surrogate "+string(r.data[i:i+6]))
			}
			n = 12
		}
		*buf = utf8.AppendRune(*buf, ch)
		return n, nil
	default:
		return 0, r.errAt(ErrSyntax, i, "invalid escape")
	}
	*buf = append(*buf, c)
	return 2, nil
}

// hex4 parses four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number parses a number: an integer literal (no fraction, no exponent)
// becomes int64, or uint64 above 2^63-1; any other number, and an integer
// literal outside both, becomes float64.
func (r *jsonReader) number() (any, error) {
	start := r.off
	i := r.off
	d := r.data
	if d[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		return nil, r.errAt(ErrSyntax, start, "invalid number")
	}
	integer := true
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return nil, r.errAt(ErrSyntax, start, "invalid number")
		}
		integer = false
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, r.errAt(ErrSyntax, start, "invalid number")
		}
		integer = false
	}
	r.off = i
	s := d[start:i]
	if integer {
		if v, ok := parseSmallInt(s); ok {
			return v, nil
		}
		if v, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			return v, nil
		}
		if s[0] != '-' {
			if v, err := strconv.ParseUint(string(s), 10, 64); err == nil {
				return v, nil
			}
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil && math.IsInf(f, 0) {
		return nil, r.errAt(ErrSyntax, start, "number out of range")
	}
	return f, nil
}

// parseSmallInt parses an integer literal of at most 18 digits.
func parseSmallInt(s []byte) (int64, bool) {
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
