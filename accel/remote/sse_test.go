package remote

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/outpost-iot/outpost/accel"
)

func allEvents(r io.Reader) ([]string, error) {
	s := newSSEReader(r)
	var out []string
	for {
		d, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(d))
	}
}

func TestSSEReader(t *testing.T) {
	in := ": comment\n\ndata: a\n\ndata:b\r\n\r\nevent: x\nid: 3\ndata: c\ndata: d\n\n\n\ndata: last"
	want := []string{"a", "b", "c\nd", "last"}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
	} {
		got, err := allEvents(r)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if _, err := allEvents(strings.NewReader("data: " + strings.Repeat("x", MaxEventBytes+10) + "\n\n")); err == nil {
		t.Error("oversized event accepted")
	}
}

func TestReadStream(t *testing.T) {
	in := `data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}

data: {"choices":[{"index":0,"text":"lo"}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}

data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}

data: [DONE]

`
	var text string
	final, err := readStream(newSSEReader(strings.NewReader(in)), func(c accel.Chunk) bool { text += c.Text; return true })
	if err != nil || text != "Hello" || final.FinishReason != "length" || final.Usage == nil || final.Usage.TotalTokens != 5 {
		t.Errorf("text %q final %+v err %v", text, final, err)
	}
	if _, err := readStream(newSSEReader(strings.NewReader("data: {\"choices\":[]}\n\n")), func(accel.Chunk) bool { return true }); err == nil {
		t.Error("stream without finish accepted")
	}
}

// FuzzSSE: any byte stream is read without panicking, split reads give the
// same events as whole reads, and readStream returns an error or a final
// chunk with a finish reason.
func FuzzSSE(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", ": c\r\n\r\ndata:b\r\ndata: c\n\n", "data: [DONE]\n\n", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n",
		"data: {\"error\":{\"message\":\"m\",\"code\":1}}\n\n", "data: {\"usage\":{\"total_tokens\":1}}\n\ndata: [DONE]", "event: e\n\n\n", "data",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := allEvents(bytes.NewReader(in))
		split, err2 := allEvents(iotest.OneByteReader(bytes.NewReader(in)))
		if (err1 == nil) != (err2 == nil) || !slices.Equal(whole, split) {
			t.Fatalf("whole %q %v, split %q %v", whole, err1, split, err2)
		}
		final, err := readStream(newSSEReader(bytes.NewReader(in)), func(accel.Chunk) bool { return true })
		if err == nil && final.FinishReason == "" {
			t.Fatal("no error and no finish reason")
		}
	})
}
