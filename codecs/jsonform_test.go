package codecs

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

// TestJSONFormRules checks each rule of docs/protocol.md §5 on the exact text the
// JSON codec writes and reads back.
func TestJSONFormRules(t *testing.T) {
	j := mustJSON(t, Limits{})
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	tests := []struct {
		rule string
		v    any
		text string
	}{
		{"5.2", []any{nil, true, "é"}, `[null,true,"é"]`},
		{"5.3", int64(-1), `-1`},
		{"5.3", uint64(math.MaxUint64), `18446744073709551615`},
		{"5.4", 1.0, `1.0`},
		{"5.4", math.Copysign(0, -1), `-0.0`},
		{"5.4", 1e21, `1e+21`},
		{"5.4", 5e-324, `5e-324`},
		{"5.5", math.Inf(-1), `{"$float":"-Infinity"}`},
		{"5.6", []byte{0xfb, 0xff}, `{"$bytes":"-_8"}`},
		{"5.6", []byte{}, `{"$bytes":""}`},
		{"5.7", Tag{Number: 32, Content: "http://x"}, `{"$tag":32,"$value":"http://x"}`},
		{"5.7", Tag{Number: math.MaxUint64, Content: []any{}}, `{"$tag":18446744073709551615,"$value":[]}`},
		{"5.8", two64, `{"$tag":2,"$value":{"$bytes":"AQAAAAAAAAAA"}}`},
		{"5.8", new(big.Int).Neg(two64), `{"$tag":3,"$value":{"$bytes":"__________8"}}`},
		{"5.9", map[string]any{"b": int64(1), "a": int64(2)}, `{"a":2,"b":1}`},
		{"5.9", map[string]any{"$bytes": "x"}, `{"$object":{"$bytes":"x"}}`},
		{"5.9", map[string]any{"$object": int64(1)}, `{"$object":{"$object":1}}`},
		{"5.9", map[string]any{"$tag": int64(1), "$value": int64(2)}, `{"$object":{"$tag":1,"$value":2}}`},
		{"5.9", map[string]any{"$object": map[string]any{"$bytes": "x"}}, `{"$object":{"$object":{"$object":{"$bytes":"x"}}}}`},
		{"5.9", map[string]any{"$object": []byte{1}}, `{"$object":{"$object":{"$bytes":"AQ"}}}`},
		{"5.9", map[string]any{"$object": []byte{1}, "n": int64(1)}, `{"$object":{"$bytes":"AQ"},"n":1}`},
		{"5.10", Map{{int64(1), int64(2)}, {"a", []byte{1}}}, `{"$map":[[1,2],["a",{"$bytes":"AQ"}]]}`},
		{"5.10", Map{{int64(-1), nil}, {[]any{int64(1)}, nil}}, `{"$map":[[-1,null],[[1],null]]}`},
		{"5.11", Undefined{}, `{"$undefined":true}`},
		{"5.12", Simple(0), `{"$simple":0}`},
		{"5.13", map[string]any{"$ref": "x"}, `{"$ref":"x"}`},
		{"5.13", map[string]any{"$bytes": "x", "n": int64(1)}, `{"$bytes":"x","n":1}`},
		{"5.13", map[string]any{"$tag": int64(1)}, `{"$tag":1}`},
		{"5.14", "<&>\u2029\x7f", `"<&>\u2029` + "\x7f" + `"`},
	}
	for _, tc := range tests {
		got, err := j.Marshal(tc.v)
		if err != nil || string(got) != tc.text {
			t.Errorf("%s: Marshal(%s) = %s, %v; want %s", tc.rule, show(tc.v), got, err, tc.text)
			continue
		}
		back, err := j.Unmarshal(got)
		want := tc.v
		if b, ok := want.(*big.Int); ok {
			want = normBig(b)
		}
		if err != nil || !equal(back, want) {
			t.Errorf("%s: Unmarshal(%s) = %s, %v", tc.rule, got, show(back), err)
		}
		back2, err := FromJSONValue(ToJSONValue(tc.v))
		if err != nil || !equal(back2, want) {
			t.Errorf("%s: FromJSONValue(ToJSONValue(%s)) = %s, %v", tc.rule, got, show(back2), err)
		}
	}
}

// TestJSONFormReading covers what the reader accepts beyond what the writer
// produces.
func TestJSONFormReading(t *testing.T) {
	j := mustJSON(t, Limits{})
	tests := []struct {
		rule, text string
		want       any
	}{
		{"5.6", `{"$bytes":"+/8="}`, []byte{0xfb, 0xff}},
		{"5.6", `{"$bytes":"-_8="}`, []byte{0xfb, 0xff}},
		{"5.8", `{"$tag":2,"$value":{"$bytes":"AQ"}}`, int64(1)},
		{"5.8", `{"$tag":3,"$value":{"$bytes":""}}`, int64(-1)},
		{"5.10", `{"$map":[[3,4],[1,2]]}`, Map{{int64(1), int64(2)}, {int64(3), int64(4)}}},
		{"5.10", `{"$map":[["a",1]]}`, map[string]any{"a": int64(1)}},
		{"5.10", `{"$map":[]}`, map[string]any{}},
		{"5.9", `{"$object":{"$object":{"$bytes":"AQ"}}}`, map[string]any{"$object": []byte{1}}},
		{"5.9", `{"x":{"$object":{"$undefined":true}}}`, map[string]any{"x": map[string]any{"$undefined": true}}},
		{"5.13", `{"$undefined":true,"$float":"NaN"}`, map[string]any{"$undefined": true, "$float": "NaN"}},
	}
	for _, tc := range tests {
		got, err := j.Unmarshal([]byte(tc.text))
		if err != nil || !equal(got, tc.want) {
			t.Errorf("%s: %s reads as %s, %v; want %s", tc.rule, tc.text, show(got), err, show(tc.want))
		}
	}
}

func TestJSONFormErrors(t *testing.T) {
	j := mustJSON(t, Limits{})
	tests := []struct {
		text string
		want error
	}{
		{`{"$bytes":5}`, ErrJSONForm},
		{`{"$bytes":"A"}`, ErrJSONForm},
		{`{"$bytes":"AB"}`, ErrJSONForm}, // non-zero trailing bits
		{`{"$bytes":"-+"}`, ErrJSONForm},
		{`{"$tag":-1,"$value":0}`, ErrJSONForm},
		{`{"$tag":1.0,"$value":0}`, ErrJSONForm},
		{`{"$tag":0,"$value":1}`, ErrJSONForm},
		{`{"$tag":2,"$value":"a"}`, ErrJSONForm},
		{`{"$map":{}}`, ErrJSONForm},
		{`{"$map":[[1]]}`, ErrJSONForm},
		{`{"$map":[[1,2],[1,3]]}`, ErrDuplicateKey},
		{`{"$map":[["a",2],["a",3]]}`, ErrDuplicateKey},
		{`{"$undefined":false}`, ErrJSONForm},
		{`{"$float":"nan"}`, ErrJSONForm},
		{`{"$simple":20}`, ErrJSONForm},
		{`{"$simple":256}`, ErrJSONForm},
		{`{"$object":5}`, ErrJSONForm},
		{`[1,{"a":{"$bytes":5}}]`, ErrJSONForm},
	}
	for _, tc := range tests {
		v, err := j.Unmarshal([]byte(tc.text))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %s, %v; want %v", tc.text, show(v), err, tc.want)
		}
		if _, err := FromJSONValue(mustPlain(t, tc.text)); !errors.Is(err, tc.want) {
			t.Errorf("FromJSONValue(%s): %v; want %v", tc.text, err, tc.want)
		}
	}
	if _, err := FromJSONValue(struct{}{}); !errors.Is(err, ErrJSONForm) {
		t.Errorf("FromJSONValue(struct{}{}): %v", err)
	}
}

// mustPlain parses JSON with encoding/json, which knows nothing of the
// JSON form.
func mustPlain(t *testing.T, text string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
