package openai

import (
	"bytes"
	"errors"
	"testing"

	"github.com/outpost-iot/outpost/accel"
)

// FuzzDecodeRequest: any body decodes to a request or to a 4xx
// invalid_request_error, and never panics; decoded requests convert to
// engine requests or a 4xx error.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"stop":"x"}`,
		`{"model":"m","messages":[{"role":"developer","content":null}],"stop":["a","b"],"seed":-1,"top_k":3,"min_p":0.1,"repeat_penalty":1.1}`,
		`{"model":"m","prompt":"abc","temperature":2,"top_p":1,"n":1,"presence_penalty":0}`,
		`{"model":"m","prompt":["a"],"max_completion_tokens":0}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"w"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"model":"m","messages":[{"role":"user","content":"w"}],"tools":[{"type":"function","function":{"name":""}}],"tool_choice":"required","parallel_tool_calls":false}`,
		`{"model":"m","messages":[{"role":"tool","content":"w"}],"tool_choice":7}`,
		`{"messages":1}`, `[]`, `null`, ``, `{"model":"m"} {}`, `{"temperature":"hot"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			var e *accel.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Message == "" {
				t.Fatalf("error %v is not a 4xx accel.Error", err)
			}
		}
		var cr ChatCompletionRequest
		err := DecodeRequest(bytes.NewReader(body), &cr)
		check(err)
		if err == nil {
			_, err = cr.ToAccel()
			check(err)
		}
		var pr CompletionRequest
		err = DecodeRequest(bytes.NewReader(body), &pr)
		check(err)
		if err == nil {
			_, err = pr.ToAccel()
			check(err)
		}
	})
}
