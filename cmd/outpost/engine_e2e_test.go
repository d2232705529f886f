package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeModel synthesizes the tiny model, serves it with
// `outpost serve --model` behind credentials, and makes chat completions
// over the gateway's HTTP port.
func TestServeModel(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	if out, err := runCmd(t, "", binary, "model", "synth", "--shape", "tiny", "--quant", "q8_0", model); err != nil {
		t.Fatalf("model synth: %v\n%s", err, out)
	}
	creds := filepath.Join(dir, "creds.yaml")
	if out, err := runCmd(t, "pw\n", binary, "passwd", "add", "app", "--password-stdin", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	tok, err := exec.Command(binary, "passwd", "token", "app", "--name", "ci", "--credentials", creds).Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	g := startBinary(t, "--model", model, "--credentials", creds)
	if !strings.Contains(g.logs(), "model loaded") {
		t.Errorf("no model loaded log:\n%s", g.logs())
	}
	do := func(method, path, body, authz string) (int, []byte) {
		req, _ := http.NewRequest(method, "http://"+g.httpAddr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	chat := `{"model":"tiny","messages":[{"role":"user","content":"hello"}],"max_tokens":8}`
	if code, _ := do("POST", "/v1/chat/completions", chat, ""); code != 401 {
		t.Errorf("/v1 without credentials: %d, want 401", code)
	}
	code, b := do("POST", "/v1/chat/completions", chat, "Bearer "+token)
	var cc struct {
		Object  string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal(b, &cc); err != nil || code != 200 || cc.Object != "chat.completion" || len(cc.Choices) != 1 ||
		cc.Choices[0].Message.Role != "assistant" || cc.Choices[0].FinishReason == "" || cc.Usage.CompletionTokens == 0 {
		t.Fatalf("chat completion: %d %s", code, b)
	}
	code, b = do("POST", "/v1/chat/completions", strings.Replace(chat, `"max_tokens":8`, `"max_tokens":4,"stream":true`, 1), "Basic "+basic("app", "pw"))
	if code != 200 || !strings.Contains(string(b), "data: [DONE]") {
		t.Fatalf("streamed chat: %d %s", code, b)
	}
	if code, b = do("GET", "/v1/models", "", "Bearer "+token); code != 200 || !strings.Contains(string(b), `"id":"tiny"`) {
		t.Fatalf("models: %d %s", code, b)
	}
	if code, b = do("POST", "/v1/chat/completions", `{"model":"other","messages":[{"role":"user","content":"x"}]}`, "Bearer "+token); code != 404 || !strings.Contains(string(b), "model_not_found") {
		t.Fatalf("unknown model: %d %s", code, b)
	}
	if err := g.stop(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, g.logs())
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestServeModelErrors: a missing model file or --model with
// --inference-url stops the gateway with a clear message.
func TestServeModelErrors(t *testing.T) {
	dir := t.TempDir()
	out, err := runCmd(t, "", binary, "serve", "--data-dir", dir, "--mqtt-port", "0", "--http-port", "0", "--model", filepath.Join(dir, "missing.gguf"))
	if err == nil || !strings.Contains(out, "missing.gguf") {
		t.Errorf("missing model: %v %s", err, out)
	}
	out, err = runCmd(t, "", binary, "serve", "--data-dir", dir, "--model", "x.gguf", "--inference-url", "http://127.0.0.1:1/v1")
	if err == nil || !strings.Contains(out, "inference_url") {
		t.Errorf("model and inference url: %v %s", err, out)
	}
}

// TestServeRemote: a gateway with --inference-url serves /v1 from another
// gateway that runs the model, with the bearer token from a key file.
func TestServeRemote(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	if out, err := runCmd(t, "", binary, "model", "synth", "--shape", "tiny", model); err != nil {
		t.Fatalf("model synth: %v\n%s", err, out)
	}
	creds := filepath.Join(dir, "creds.yaml")
	if out, err := runCmd(t, "pw\n", binary, "passwd", "add", "edge", "--password-stdin", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	tok, err := exec.Command(binary, "passwd", "token", "edge", "--credentials", creds).Output()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, tok, 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := startBinary(t, "--model", model, "--credentials", creds)
	front := startBinary(t, "--inference-url", "http://"+upstream.httpAddr+"/v1", "--inference-api-key-file", keyFile)
	resp, err := http.Post("http://"+front.httpAddr+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"tiny","prompt":"relay","max_tokens":5,"temperature":0}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"object":"text_completion"`) || !strings.Contains(string(b), `"completion_tokens":5`) {
		t.Fatalf("completion through the remote backend: %d %s", resp.StatusCode, b)
	}
}
