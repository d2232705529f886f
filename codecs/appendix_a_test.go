package codecs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// notWellFormed lists the vectors of testdata/appendix_a.json that a
// conforming RFC 8949 decoder must reject, with the reason. Nothing else is
// skipped or treated specially.
var notWellFormed = map[string]string{
	// simple(24) in two bytes comes from RFC 7049's Appendix A. RFC 8949
	// §3.3 makes the two-byte simple values 0 to 31 (f800 to f81f) not
	// well-formed, and its Appendix F.1 lists them among the
	// not-well-formed examples.
	"f818": "RFC 8949 §3.3: two-byte simple values below 32 are not well-formed",
}

// TestAppendixA decodes every vector and compares it with its "decoded"
// value or, where the file has none, with its diagnostic notation; vectors
// marked roundtrip re-encode to the same bytes, the others to a canonical
// form that decodes to the same value.
func TestAppendixA(t *testing.T) {
	c := mustCBOR(t, Limits{})
	vs := loadVectors(t)
	for _, v := range vs {
		t.Run(v.name(), func(t *testing.T) {
			if got := hex.EncodeToString(v.CBOR); got != v.Hex {
				t.Fatalf("cbor field %s does not match hex %s", got, v.Hex)
			}
			got, err := c.Unmarshal(v.CBOR)
			if reason, ok := notWellFormed[v.Hex]; ok {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("got %v, %v; want ErrSyntax (%s)", show(got), err, reason)
				}
				t.Logf("rejected as required: %s (%v)", reason, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := expected(t, v)
			if !equal(got, want) {
				t.Fatalf("decoded %s (%T), want %s (%T)", show(got), got, show(want), want)
			}
			enc, err := c.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if v.Roundtrip {
				if !bytes.Equal(enc, v.CBOR) {
					t.Fatalf("re-encoded %x, want %x", enc, v.CBOR)
				}
				return
			}
			again, err := c.Unmarshal(enc)
			if err != nil || !equal(again, want) {
				t.Fatalf("canonical form %x decodes to %s, %v", enc, show(again), err)
			}
			if len(enc) > len(v.CBOR) {
				t.Errorf("canonical form %x is longer than %x", enc, v.CBOR)
			}
		})
	}
}

// TestAppendixAJSONForm: CBOR → JSON form → CBOR gives the same value and
// bytes for every vector, both through the JSON codec and through
// ToJSONValue/FromJSONValue.
func TestAppendixAJSONForm(t *testing.T) {
	c := mustCBOR(t, Limits{})
	j := mustJSON(t, Limits{})
	for _, v := range loadVectors(t) {
		if _, bad := notWellFormed[v.Hex]; bad {
			continue
		}
		t.Run(v.name(), func(t *testing.T) {
			val, err := c.Unmarshal(v.CBOR)
			if err != nil {
				t.Fatal(err)
			}
			canon, _ := c.Marshal(val)
			text, err := j.Marshal(val)
			if err != nil {
				t.Fatal(err)
			}
			back, err := j.Unmarshal(text)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if !equal(back, val) {
				t.Fatalf("%s reads back as %s, want %s", text, show(back), show(val))
			}
			if enc, _ := c.Marshal(back); !bytes.Equal(enc, canon) {
				t.Fatalf("CBOR after JSON form %x, want %x", enc, canon)
			}
			// ToJSONValue gives what encoding/json needs to write the
			// same JSON (up to number formatting).
			plain := ToJSONValue(val)
			std, err := json.Marshal(plain)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if json.Unmarshal(std, &a) != nil || json.Unmarshal(text, &b) != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("encoding/json writes ToJSONValue as %s, want %s", std, text)
			}
			back2, err := FromJSONValue(plain)
			if err != nil || !equal(back2, val) {
				t.Fatalf("FromJSONValue(ToJSONValue) = %s, %v", show(back2), err)
			}
			// FromJSONValue also reads encoding/json's own output.
			d := json.NewDecoder(bytes.NewReader(text))
			d.UseNumber()
			var n any
			if err := d.Decode(&n); err != nil {
				t.Fatal(err)
			}
			if back3, err := FromJSONValue(n); err != nil || !equal(back3, val) {
				t.Fatalf("FromJSONValue(encoding/json with UseNumber) = %s, %v", show(back3), err)
			}
			t.Logf("%s → %s", v.Hex, text)
		})
	}
}

// expected returns the value a vector should decode to.
func expected(t *testing.T, v vector) any {
	t.Helper()
	if v.Decoded != nil {
		d := json.NewDecoder(bytes.NewReader(v.Decoded))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			t.Fatal(err)
		}
		return fromTestJSON(t, x)
	}
	if v.Diagnostic == nil {
		t.Fatal("vector has neither decoded nor diagnostic")
	}
	p := diagParser{s: *v.Diagnostic}
	x, err := p.parse()
	if err != nil {
		t.Fatalf("diagnostic %q: %v", *v.Diagnostic, err)
	}
	return x
}

// fromTestJSON converts encoding/json output (UseNumber) to the model: an
// integer literal is an integer of any size, anything else with a fraction
// or exponent is a float.
func fromTestJSON(t *testing.T, x any) any {
	switch x := x.(type) {
	case json.Number:
		return diagNumber(t, string(x))
	case []any:
		for i := range x {
			x[i] = fromTestJSON(t, x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromTestJSON(t, x[k])
		}
	}
	return x
}

func diagNumber(t *testing.T, s string) any {
	if !strings.ContainsAny(s, ".eE") {
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad integer %q", s)
		}
		return normBig(n)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad float %q: %v", s, err)
	}
	return f
}

// diagParser reads the subset of CBOR diagnostic notation (RFC 8949 §8)
// that the vectors use: numbers, Infinity, NaN, true, false, null,
// undefined, simple(n), "text", h'hex', n(tagged), [arrays], {maps} and
// (_ chunked strings).
type diagParser struct {
	s   string
	off int
}

func (p *diagParser) parse() (any, error) {
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.off != len(p.s) {
		return nil, fmt.Errorf("trailing %q", p.s[p.off:])
	}
	return v, nil
}

func (p *diagParser) skip() {
	for p.off < len(p.s) && p.s[p.off] == ' ' {
		p.off++
	}
}

func (p *diagParser) eat(prefix string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.off:], prefix) {
		p.off += len(prefix)
		return true
	}
	return false
}

func (p *diagParser) value() (any, error) {
	p.skip()
	for _, w := range []struct {
		word string
		v    any
	}{
		{"Infinity", math.Inf(1)}, {"-Infinity", math.Inf(-1)}, {"NaN", math.NaN()},
		{"true", true}, {"false", false}, {"null", nil}, {"undefined", Undefined{}},
	} {
		if p.eat(w.word) {
			return w.v, nil
		}
	}
	switch {
	case p.eat("simple("):
		n, err := p.uint()
		if err != nil || !p.eat(")") {
			return nil, fmt.Errorf("bad simple value")
		}
		return Simple(n), nil
	case p.eat("h'"):
		end := strings.IndexByte(p.s[p.off:], '\'')
		if end < 0 {
			return nil, fmt.Errorf("unterminated h''")
		}
		b, err := hex.DecodeString(p.s[p.off : p.off+end])
		p.off += end + 1
		return b, err
	case p.eat(`"`):
		end := p.off
		for end < len(p.s) && p.s[end] != '"' {
			if p.s[end] == '\\' {
				end++
			}
			end++
		}
		var s string
		err := json.Unmarshal([]byte(p.s[p.off-1:end+1]), &s)
		p.off = end + 1
		return s, err
	case p.eat("(_"):
		var chunks []any
		for !p.eat(")") {
			c, err := p.value()
			if err != nil {
				return nil, err
			}
			chunks = append(chunks, c)
			p.eat(",")
		}
		return joinChunks(chunks)
	case p.eat("["):
		p.eat("_")
		a := []any{}
		for !p.eat("]") {
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			a = append(a, e)
			p.eat(",")
		}
		return a, nil
	case p.eat("{"):
		p.eat("_")
		var m Map
		for !p.eat("}") {
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			if !p.eat(":") {
				return nil, fmt.Errorf("missing ':'")
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			m = append(m, Pair{k, v})
			p.eat(",")
		}
		sorted, _, err := sortedPairs(m, "cbor")
		if err != nil {
			return nil, err
		}
		if t, ok := textKeys(sorted); ok {
			return t, nil
		}
		return sorted, nil
	}
	// A number, or a tag number followed by "(".
	start := p.off
	for p.off < len(p.s) && strings.IndexByte("-+.0123456789e", p.s[p.off]) >= 0 {
		p.off++
	}
	num := p.s[start:p.off]
	if num == "" {
		return nil, fmt.Errorf("unexpected %q", p.s[p.off:])
	}
	if p.eat("(") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return nil, err
		}
		content, err := p.value()
		if err != nil || !p.eat(")") {
			return nil, fmt.Errorf("bad tag content: %v", err)
		}
		return makeTag(n, content), nil
	}
	if !strings.ContainsAny(num, ".e") {
		n, ok := new(big.Int).SetString(num, 10)
		if !ok {
			return nil, fmt.Errorf("bad integer %q", num)
		}
		return normBig(n), nil
	}
	return strconv.ParseFloat(num, 64)
}

func (p *diagParser) uint() (uint64, error) {
	start := p.off
	for p.off < len(p.s) && p.s[p.off] >= '0' && p.s[p.off] <= '9' {
		p.off++
	}
	return strconv.ParseUint(p.s[start:p.off], 10, 64)
}

// joinChunks concatenates the chunks of an indefinite-length string.
func joinChunks(chunks []any) (any, error) {
	var b []byte
	text := false
	for _, c := range chunks {
		switch c := c.(type) {
		case []byte:
			b = append(b, c...)
		case string:
			text = true
			b = append(b, c...)
		default:
			return nil, fmt.Errorf("chunk of type %T", c)
		}
	}
	if text {
		return string(b), nil
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
