package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/openai"
	"github.com/outpost-iot/outpost/accel/openai/openaitest"
)

// toolScript is the scripted model of the tool tests: after a tool result
// it quotes it; asked about the weather it calls get_weather (the
// test binary's server tool, which needs approval); asked where the
// user is, it calls the client's getLocation when offered; else it greets.
func toolScript(req openai.ChatCompletionRequest) openaitest.Reply {
	last := openaitest.LastMessage(req)
	offered := func(name string) bool {
		for _, t := range req.Tools {
			if t.Function.Name == name {
				return true
			}
		}
		return false
	}
	text := strings.ToLower(string(last.Content))
	switch {
	case last.Role == "tool":
		return openaitest.Reply{Text: "Here it is: " + string(last.Content)}
	case strings.Contains(text, "weather") && offered("get_weather"):
		return openaitest.Reply{Text: "Checking.", ToolCalls: []accel.ToolCall{{ID: fmt.Sprintf("call_w%d", len(req.Messages)), Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}
	case strings.Contains(text, "where") && offered("getLocation"):
		return openaitest.Reply{ToolCalls: []accel.ToolCall{{ID: fmt.Sprintf("call_l%d", len(req.Messages)), Name: "getLocation", Arguments: `{}`}}}
	}
	return openaitest.Reply{Text: "Hello."}
}

// toolGateway runs the binary whose chat class has the get_weather tool
// (-tags testagents, testchat.go)
// and the scripted model behind --inference-url; args are added.
func toolGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	path, err := testAgentsBinary()
	if err != nil {
		t.Fatal(err)
	}
	sc := openaitest.New(toolScript)
	t.Cleanup(sc.Close)
	return startBinaryAt(t, path, append([]string{"--inference-url", sc.URL}, args...)...)
}

// TestChatApprovalSurvivesKill: a tool call waiting for approval is
// stored before it is asked; the gateway is killed (SIGKILL) and started
// again on the same data directory; the approval then continues the turn,
// which runs the tool and answers with its result.
func TestChatApprovalSurvivesKill(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	g := toolGateway(t, "--data-dir", data)
	js := dialChat(t, g, "kill-approval", "_pk=browser-1")
	body := `{"messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"What is the weather?"}]}]}`
	js.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "a1", "init": map[string]any{"method": "POST", "body": body}})
	chunks, _, _ := js.reply(t, "a1")
	var call string
	for _, c := range chunks {
		if c["type"] == "tool-approval-request" {
			call, _ = c["toolCallId"].(string)
		}
	}
	if call == "" {
		t.Fatalf("no approval request in %v", chunks)
	}
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.done

	g2 := toolGateway(t, "--data-dir", data)
	again := dialChat(t, g2, "kill-approval", "_pk=browser-1")
	again.send(t, map[string]any{"type": "cf_agent_tool_approval", "toolCallId": call, "approved": true, "autoContinue": true})
	deadline := time.After(60 * time.Second)
	contID := ""
	for contID == "" {
		select {
		case f, ok := <-again.in:
			if !ok {
				t.Fatal("connection closed")
			}
			if f["type"] == "cf_agent_use_chat_response" && f["continuation"] == true {
				contID, _ = f["id"].(string)
			}
			if f["type"] == "outpost_error" {
				t.Fatalf("approval refused: %v", f)
			}
		case <-deadline:
			t.Fatalf("no continuation\n%s", g2.logs())
		}
	}
	cont, done, _ := again.reply(t, contID)
	if done["error"] != nil {
		t.Fatalf("continuation %v", done)
	}
	text := ""
	for _, c := range cont {
		if c["type"] == "text-delta" {
			text += c["delta"].(string)
		}
	}
	if !strings.Contains(text, `"temp":3`) {
		t.Fatalf("continuation text %q (chunks %v)", text, cont)
	}
}

// TestChatToolsNPMClient runs @cloudflare/ai-chat 0.12.2's chat client
// under node through a tool-approval turn (a server tool, approved with
// cf_agent_tool_approval and continued) and a client-side tool turn (the
// result in cf_agent_tool_result, continued), against the binary whose
// model is a scripted OpenAI-compatible server
// (testdata/agentsjs/chat-tools.mjs).
func TestChatToolsNPMClient(t *testing.T) {
	runNodeScript(t, toolGateway(t), "chat-tools.mjs", nil)
}

// TestAgentsNPMClientSDK runs the official agents npm client (AgentClient)
// against the test binary's test-sdk agent (testchat.go): state sync in
// both directions, a rejected update ("State update rejected"), and
// streaming RPC, ending in a result or in an error
// (testdata/agentsjs/client-sdk.mjs). TestAgentsNPMClient covers the rest
// of the client against the built-in echo agent.
func TestAgentsNPMClientSDK(t *testing.T) {
	path, err := testAgentsBinary()
	if err != nil {
		t.Fatal(err)
	}
	runNodeScript(t, startBinaryAt(t, path), "client-sdk.mjs", nil)
}

// TestChatToolsCBOR: a CBOR WebSocket client takes a tool-approval turn
// with native values everywhere the SDK nests JSON text (the body, the
// chunks) and in the tool frames (input, output, the updated message); an
// MQTT 5 device (CBOR) watching the chat sees the same chunks and
// approves the call natively.
func TestChatToolsCBOR(t *testing.T) {
	g := toolGateway(t)
	cb := dialChat(t, g, "cbor-room", "_pk=dev-1&codec=cbor")
	dev := mqttChat(t, g, "cbor-room")
	cb.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "dev-1", "init": map[string]any{"method": "POST",
		"body": map[string]any{"messages": []any{map[string]any{"id": "u1", "role": "user", "parts": []any{map[string]any{"type": "text", "text": "weather?"}}}}}}})
	chunks, done, _ := cb.reply(t, "dev-1")
	if done["error"] != nil {
		t.Fatalf("done %v", done)
	}
	var call string
	for _, c := range chunks {
		switch c["type"] {
		case "tool-input-available":
			if in, ok := c["input"].(map[string]any); !ok || in["city"] != "Oslo" {
				t.Fatalf("tool input not native: %v", c)
			}
			call, _ = c["toolCallId"].(string)
		case "tool-approval-request":
			if c["toolCallId"] != call || c["approvalId"] == "" {
				t.Fatalf("approval request %v", c)
			}
		}
	}
	if call == "" {
		t.Fatalf("no tool call in %v", chunks)
	}
	if dchunks, _, _ := dev.reply(t, "dev-1"); len(dchunks) != len(chunks) {
		t.Fatalf("MQTT device: %d chunks, CBOR WebSocket %d", len(dchunks), len(chunks))
	}
	dev.send(t, map[string]any{"type": "cf_agent_tool_approval", "toolCallId": call, "approved": true, "autoContinue": true})
	var contID string
	var updated map[string]any
	deadline := time.After(60 * time.Second)
	for contID == "" {
		select {
		case f := <-cb.in:
			switch {
			case f["type"] == "cf_agent_message_updated":
				updated, _ = f["message"].(map[string]any)
			case f["type"] == "cf_agent_use_chat_response" && f["continuation"] == true:
				contID, _ = f["id"].(string)
				if body, ok := f["body"].(map[string]any); !ok || body["type"] != "start" {
					t.Fatalf("first continuation frame %v", f)
				}
			}
		case <-deadline:
			t.Fatal("no continuation")
		}
	}
	if updated == nil {
		t.Fatal("no cf_agent_message_updated before the continuation")
	}
	if parts, _ := updated["parts"].([]any); len(parts) == 0 {
		t.Fatalf("updated message %v", updated)
	}
	cont, cdone, _ := cb.reply(t, contID)
	if cdone["error"] != nil || cdone["continuation"] != true {
		t.Fatalf("continuation done %v", cdone)
	}
	var output map[string]any
	for _, c := range cont {
		if c["type"] == "tool-output-available" {
			output, _ = c["output"].(map[string]any)
		}
	}
	if output == nil || output["city"] != "Oslo" {
		t.Fatalf("tool output not native: %v", cont)
	}
}

// TestChatKilledMidStream kills the gateway (SIGKILL) while a reply
// streams, starts it again on the same data directory, and checks that
// the reconnecting client gets the reply's terminal frame and that the
// partial reply (what streamed) is kept in the history.
func TestChatKilledMidStream(t *testing.T) {
	// The model streams five pieces, then holds the reply until the
	// gateway is gone: the kill is mid-stream however fast the machine.
	hold := make(chan struct{})
	defer close(hold)
	sc := openaitest.New(func(openai.ChatCompletionRequest) openaitest.Reply {
		return openaitest.Reply{Text: strings.Repeat("Once upon a time. ", 20), Hold: hold, HoldAfter: 5}
	})
	t.Cleanup(sc.Close)
	data := filepath.Join(t.TempDir(), "data")
	g := startBinary(t, "--inference-url", sc.URL, "--data-dir", data)
	js := dialChat(t, g, "killed", "_pk=browser-1")
	body := `{"messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"Tell me a long story"}]}],"maxTokens":100000}`
	js.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "kill1", "init": map[string]any{"method": "POST", "body": body}})
	deltas := 0
	deadline := time.After(60 * time.Second)
	for deltas < 5 {
		select {
		case f, ok := <-js.in:
			if !ok {
				t.Fatal("connection closed")
			}
			if f["type"] == "cf_agent_use_chat_response" && f["done"] == true {
				t.Fatalf("the reply ended before the kill: %v", f)
			}
			if s, _ := f["body"].(string); strings.Contains(s, `"text-delta"`) {
				deltas++
			}
		case <-deadline:
			t.Fatal("no text streamed")
		}
	}
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.done

	g2 := startBinary(t, "--inference-url", sc.URL, "--data-dir", data)
	again := dialChat(t, g2, "killed", "_pk=browser-1")
	_, done, _ := again.reply(t, "kill1")
	if done["done"] != true {
		t.Fatalf("terminal frame %v", done)
	}
	resp, err := http.Get("http://" + g2.httpAddr + "/agents/chat/killed/get-messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hist []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1]["role"] != "assistant" {
		t.Fatalf("history after the restart %v", hist)
	}
	parts, _ := hist[1]["parts"].([]any)
	text := ""
	for _, p := range parts {
		if pm, _ := p.(map[string]any); pm["type"] == "text" {
			text += pm["text"].(string)
		}
	}
	if want := strings.Repeat("Once upon a time. ", 20)[:5*4]; text != want {
		t.Fatalf("the partial reply kept %q, want %q (the five pieces that streamed): %v", text, want, hist[1])
	}
}
