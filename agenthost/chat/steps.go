package chat

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/agenthost"
)

// streamCall is a tool call the model is streaming.
type streamCall struct {
	id, name string
	args     string
	started  bool // tool-input-start sent
	modelID  bool // id is the model's (not made up here)
}

// uiToolCalls is the finish reason of a reply that stopped on tool calls,
// as the AI SDK names it.
const uiToolCalls = "tool-calls"

// uiFinishReason is a model's finish reason as the AI SDK names it.
func uiFinishReason(r string) string {
	if r == accel.FinishToolCalls {
		return uiToolCalls
	}
	return r
}

// closeParts ends the open text and reasoning parts (text-end,
// reasoning-end).
func (t *turn) closeParts(ctx *agenthost.Context) {
	for _, kind := range []string{"reasoning", "text"} {
		if id, ok := t.open[kind]; ok {
			delete(t.open, kind)
			t.emit(ctx, map[string]any{"type": kind + "-end", "id": id})
		}
	}
}

// partID is the chunk id of the step's text or reasoning part: the
// request id for the first step's text (as before tools), else one of
// its own.
func (t *turn) partID(kind string) string {
	if kind == "text" && t.step == 0 {
		return t.requestID
	}
	return fmt.Sprintf("%s-%s-%d", kind, t.requestID, t.step)
}

// token handles one model chunk on the agent's goroutine: reasoning,
// text and tool-call pieces become their UI-message-stream chunks.
func (t *turn) token(ctx *agenthost.Context, ch accel.Chunk) error {
	if t.ended {
		return errTurnOver
	}
	write := func(kind, delta string) {
		if delta == "" {
			return
		}
		other := "text"
		if kind == "text" {
			other = "reasoning"
		}
		if id, ok := t.open[other]; ok {
			delete(t.open, other)
			t.emit(ctx, map[string]any{"type": other + "-end", "id": id})
		}
		id, ok := t.open[kind]
		if !ok {
			id = t.partID(kind)
			t.open[kind] = id
			t.emit(ctx, map[string]any{"type": kind + "-start", "id": id})
		}
		t.emit(ctx, map[string]any{"type": kind + "-delta", "id": id, "delta": delta})
	}
	write("reasoning", ch.Reasoning)
	write("text", ch.Text)
	for _, d := range ch.ToolCalls {
		if t.calls == nil {
			t.calls, t.callKeys = map[int]*streamCall{}, map[int]int{}
		}
		key, ok := t.callKeys[d.Index]
		if !ok {
			key = d.Index
		}
		sc := t.calls[key]
		if sc != nil && sc.modelID && d.ID != "" && d.ID != sc.id {
			// Another id at the same index is another call (servers that
			// send no index number every call 0).
			sc, key = nil, -len(t.callOrder)-1
		}
		if sc == nil {
			sc = &streamCall{id: d.ID, modelID: d.ID != ""}
			if sc.id == "" {
				sc.id = randomID("call_", 12)
			}
			t.calls[key], t.callKeys[d.Index] = sc, key
			t.callOrder = append(t.callOrder, key)
		}
		if sc.name == "" {
			sc.name = d.Name
		}
		if !sc.started && sc.name != "" {
			sc.started = true
			t.emit(ctx, map[string]any{"type": "tool-input-start", "toolCallId": sc.id, "toolName": sc.name})
			if sc.args != "" {
				t.emit(ctx, map[string]any{"type": "tool-input-delta", "toolCallId": sc.id, "inputTextDelta": sc.args})
			}
		}
		sc.args += d.Arguments
		if sc.started && d.Arguments != "" {
			t.emit(ctx, map[string]any{"type": "tool-input-delta", "toolCallId": sc.id, "inputTextDelta": d.Arguments})
		}
	}
	return nil
}

// stepped reports whether the turn marks its steps (start-step,
// finish-step): when tools are in play, as the AI SDK's streamText does;
// a plain chat keeps the chunks it always had.
func (t *turn) stepped() bool { return !t.tools.empty() || t.extends }

// startStep begins a model call.
func (t *turn) startStep(ctx *agenthost.Context) {
	t.calls, t.callOrder, t.callKeys = nil, nil, nil
	if t.stepped() {
		t.stepOpen = true
		t.emit(ctx, map[string]any{"type": "start-step"})
	}
}

// finishStep ends a model call and the tool runs that followed it.
func (t *turn) finishStep(ctx *agenthost.Context) {
	t.step++
	if t.stepOpen {
		t.stepOpen = false
		t.emit(ctx, map[string]any{"type": "finish-step"})
	}
}

// toolRun is a server tool call to run on the model goroutine.
type toolRun struct {
	id    string
	tool  Tool
	input any
}

// endStep ends a model call that finished with reason. Without tool calls
// the turn ends. Otherwise each call's input is made available (or is an
// input error when it is not JSON), and the calls are sorted: server
// tools to run now (returned), server tools that need approval (the
// message is stored with the pending approval before
// tool-approval-request is sent), client tools (they wait for
// cf_agent_tool_result), unknown tools (an output error). final says that
// the turn ends after the runs: a call waits, or the step limit is
// reached.
func (t *turn) endStep(ctx *agenthost.Context, reason string) (todo []toolRun, final bool) {
	t.closeParts(ctx)
	if len(t.callOrder) == 0 {
		t.finishStep(ctx)
		t.end(ctx, reason, "")
		return nil, false
	}
	var approvals []map[string]any
	waits := false
	for _, idx := range t.callOrder {
		sc := t.calls[idx]
		if !sc.started {
			sc.name = "unknown"
			t.emit(ctx, map[string]any{"type": "tool-input-start", "toolCallId": sc.id, "toolName": sc.name})
		}
		input, err := jsonCodec.Unmarshal([]byte(sc.args))
		if sc.args == "" {
			input, err = map[string]any{}, nil
		}
		if err != nil {
			t.emit(ctx, map[string]any{"type": "tool-input-error", "toolCallId": sc.id, "toolName": sc.name, "input": sc.args,
				"errorText": "the tool input is not JSON: " + err.Error()})
			continue
		}
		t.emit(ctx, map[string]any{"type": "tool-input-available", "toolCallId": sc.id, "toolName": sc.name, "input": input})
		if tool, ok := t.tools.server[sc.name]; ok {
			if tool.NeedsApproval != nil && tool.NeedsApproval(input) {
				approvals = append(approvals, map[string]any{"type": "tool-approval-request", "approvalId": randomID("approval_", 8), "toolCallId": sc.id})
				waits = true
			} else {
				todo = append(todo, toolRun{id: sc.id, tool: tool, input: input})
			}
			continue
		}
		if _, ok := t.tools.client[sc.name]; ok {
			waits = true
			continue
		}
		t.emit(ctx, map[string]any{"type": "tool-output-error", "toolCallId": sc.id, "errorText": fmt.Sprintf("there is no tool named %q", sc.name)})
	}
	if len(approvals) > 0 {
		// The pending approval is stored before it is asked, so that it
		// survives hibernation and a restart (the SDK's #922).
		for _, c := range approvals {
			t.b.apply(c)
		}
		t.b.closeTexts()
		if err := upsertMessages(ctx, []Message{t.b.message()}, t.cfg.MaxPersistedMessages); err != nil {
			ctx.Logger().Warn("chat: store the pending approval", "error", err)
		}
		for _, c := range approvals {
			t.send(ctx, c)
		}
	}
	return todo, waits || t.maxSteps > 0 && t.step+1 >= t.maxSteps
}

// resolveApprovals is a continuation's first work: tool calls a person
// approved are returned to run, denied ones get tool-output-denied.
func (t *turn) resolveApprovals(ctx *agenthost.Context) []toolRun {
	var todo []toolRun
	for _, p := range t.b.message().Parts {
		if !isToolPart(p) || p["state"] != "approval-responded" {
			continue
		}
		id, _ := p["toolCallId"].(string)
		if !approved(p) {
			t.emit(ctx, map[string]any{"type": "tool-output-denied", "toolCallId": id})
			continue
		}
		tool, ok := t.tools.server[toolName(p)]
		if !ok {
			t.emit(ctx, map[string]any{"type": "tool-output-error", "toolCallId": id, "errorText": fmt.Sprintf("there is no tool named %q", toolName(p))})
			continue
		}
		todo = append(todo, toolRun{id: id, tool: tool, input: p["input"]})
	}
	return todo
}

// execute runs server tools on the model goroutine, one after the other,
// posting each output (or error); it returns false when the turn is over.
func (t *turn) execute(sctx context.Context, todo []toolRun, run func(func(*agenthost.Context) error) error) bool {
	for _, r := range todo {
		wctx := context.WithValue(sctx, dataWriterKey{}, dataWriter(func(chunk map[string]any) error {
			return run(func(ctx *agenthost.Context) error {
				if t.ended {
					return errTurnOver
				}
				t.emit(ctx, chunk)
				return nil
			})
		}))
		out, err := runTool(wctx, r)
		chunk := map[string]any{"type": "tool-output-available", "toolCallId": r.id, "output": out}
		if err != nil {
			chunk = map[string]any{"type": "tool-output-error", "toolCallId": r.id, "errorText": err.Error()}
		}
		if run(func(ctx *agenthost.Context) error {
			if t.ended {
				return errTurnOver
			}
			t.emit(ctx, chunk)
			return nil
		}) != nil {
			return false
		}
	}
	return true
}

// runTool runs one tool, turning a panic into an error and the output
// into the JSON value model (a Go struct becomes its JSON object).
func runTool(ctx context.Context, r toolRun) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("tool %s panicked: %v", r.tool.Name, p)
		}
	}()
	if r.tool.Execute == nil {
		return nil, fmt.Errorf("tool %s has no Execute", r.tool.Name)
	}
	v, err := r.tool.Execute(ctx, r.input)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("tool %s output: %w", r.tool.Name, err)
	}
	return wideCodec.Unmarshal(b)
}

// storeRequestContext keeps the request's custom body fields and client
// tools for the continuations that follow it (the SDK's lastBody and
// lastClientTools).
func storeRequestContext(ctx *agenthost.Context, req Request) error {
	body := map[string]any{}
	for k, v := range req.Body {
		switch k {
		case "messages", "clientTools", "trigger":
		default:
			body[k] = v
		}
	}
	var bv, tv any
	if len(body) > 0 {
		bv = body
	}
	if len(req.ClientTools) > 0 {
		tv = clientToolValues(req.ClientTools)
	}
	if err := setRequestContext(ctx, contextLastBody, bv); err != nil {
		return err
	}
	return setRequestContext(ctx, contextLastClientTools, tv)
}
