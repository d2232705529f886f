package openai_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/openai"
	"github.com/outpost-iot/outpost/accel/openai/openaitest"
	"github.com/outpost-iot/outpost/accel/remote"
	"github.com/outpost-iot/outpost/internal/testutil"
)

// toolsFront serves the API over the remote backend over a scripted model
// that calls get_weather until it gets a tool result, then answers.
func toolsFront(t *testing.T) (*openaitest.Server, string) {
	t.Helper()
	sc := openaitest.New(func(req openai.ChatCompletionRequest) openaitest.Reply {
		if last := openaitest.LastMessage(req); last.Role == "tool" {
			return openaitest.Reply{Text: "It is 3 degrees (" + string(last.Content) + ")."}
		}
		return openaitest.Reply{Reasoning: "the user wants weather", ToolCalls: []accel.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}
	})
	t.Cleanup(sc.Close)
	rc, err := remote.New(remote.Config{BaseURL: sc.URL})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(openai.NewHandler(rc, nil))
	t.Cleanup(front.Close)
	return sc, front.URL
}

const toolsRequest = `{"model":"scripted","messages":[{"role":"user","content":"Weather in Oslo?"}],
 "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
 "tool_choice":"auto"`

// TestToolCallsNonStreaming: a request with tools gets the assistant
// message with tool_calls (content null) and finish_reason tool_calls; the
// tools, the assistant's calls and the tool result travel to the backend
// as OpenAI's JSON.
func TestToolCallsNonStreaming(t *testing.T) {
	sc, url := toolsFront(t)
	resp, body := post(t, url+"/v1/chat/completions", toolsRequest+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct {
		Choices []struct {
			Message struct {
				Role             string           `json:"role"`
				Content          *string          `json:"content"`
				ReasoningContent string           `json:"reasoning_content"`
				ToolCalls        []map[string]any `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	m := got.Choices[0].Message
	want := []map[string]any{{"id": "call_1", "type": "function", "function": map[string]any{"name": "get_weather", "arguments": `{"city":"Oslo"}`}}}
	if m.Content != nil || !reflect.DeepEqual(m.ToolCalls, want) || got.Choices[0].FinishReason != "tool_calls" || m.ReasoningContent != "the user wants weather" {
		t.Fatalf("answer %s", body)
	}
	// The second step: the call and its result go back.
	second := `{"model":"scripted","messages":[{"role":"user","content":"Weather in Oslo?"},
	 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
	 {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":3}"}]}`
	resp, body = post(t, url+"/v1/chat/completions", second)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `It is 3 degrees ({\"temp\":3}).`) {
		t.Fatalf("second step: %d %s", resp.StatusCode, body)
	}
	reqs := sc.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if tl := reqs[0].Tools; len(tl) != 1 || tl[0].Type != "function" || tl[0].Function.Name != "get_weather" || string(reqs[0].ToolChoice) != "auto" ||
		!strings.Contains(string(tl[0].Function.Parameters), `"city"`) {
		t.Errorf("tools sent %+v choice %q", tl, reqs[0].ToolChoice)
	}
	msgs := reqs[1].Messages
	if len(msgs) != 3 || msgs[1].ToolCalls[0].ID != "call_1" || msgs[1].ToolCalls[0].Function.Arguments != `{"city":"Oslo"}` || msgs[2].ToolCallID != "call_1" {
		t.Errorf("messages sent %+v", msgs)
	}
}

// TestToolCallsStreaming: streamed tool calls are deltas with an index;
// the first of a call has id, type and name; the arguments follow.
func TestToolCallsStreaming(t *testing.T) {
	_, url := toolsFront(t)
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(toolsRequest+`,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var calls accel.ToolCalls
	var reasoning, finish string
	first := true
	for _, ev := range readSSE(t, resp.Body) {
		if ev == "[DONE]" {
			break
		}
		var c struct {
			Choices []struct {
				Delta struct {
					ReasoningContent string `json:"reasoning_content"`
					ToolCalls        []struct {
						Index    *int   `json:"index"`
						ID       string `json:"id"`
						Type     string `json:"type"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(ev), &c); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		for _, ch := range c.Choices {
			reasoning += ch.Delta.ReasoningContent
			for _, d := range ch.Delta.ToolCalls {
				if d.Index == nil {
					t.Fatalf("tool call delta without index: %s", ev)
				}
				if first && (d.ID != "call_1" || d.Type != "function" || d.Function.Name != "get_weather") {
					t.Fatalf("first tool call delta %s", ev)
				}
				first = false
				calls.Add([]accel.ToolCallDelta{{Index: *d.Index, ID: d.ID, Name: d.Function.Name, Arguments: d.Function.Arguments}})
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	want := []accel.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Oslo"}`}}
	if !reflect.DeepEqual(calls.Calls(), want) || finish != "tool_calls" || reasoning != "the user wants weather" {
		t.Fatalf("calls %+v finish %q reasoning %q", calls.Calls(), finish, reasoning)
	}
}

// TestToolRequestErrors: bad tools are refused naming the field.
func TestToolRequestErrors(t *testing.T) {
	_, url := toolsFront(t)
	for body, param := range map[string]string{
		`{"model":"scripted","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"bad name"}}]}`:        "tools[0].function.name",
		`{"model":"scripted","messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval","function":{"name":"a"}}]}`:              "tools[0].type",
		`{"model":"scripted","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"nope"}}}`:        "tool_choice",
		`{"model":"scripted","messages":[{"role":"user","content":"x"},{"role":"tool","content":"r"}]}`:                                       "messages[1].tool_call_id",
		`{"model":"scripted","messages":[{"role":"user","content":"x","tool_calls":[{"id":"a","type":"function","function":{"name":"f"}}]}]}`: "messages[0].tool_calls",
	} {
		resp, got := post(t, url+"/v1/chat/completions", body)
		if resp.StatusCode != 400 || !strings.Contains(string(got), `"param":"`+param+`"`) {
			t.Errorf("%s: %d %s", body, resp.StatusCode, got)
		}
	}
}

// TestOpenAINodeClientTools runs the official openai npm client's tool
// runner (runTools, streamed and not) and stream helper through tool
// calls against the API (over the remote backend and a scripted model).
func TestOpenAINodeClientTools(t *testing.T) {
	node := testutil.NeedTool(t, "node")
	dir, _ := filepath.Abs("testdata/openainode")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		testutil.Missing(t, "the openai npm package is not installed in "+dir)
	}
	_, url := toolsFront(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "tools.mjs", url+"/v1", "scripted")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("openai client: %v\n%s", err, out)
	}
}
