package chat

import (
	"context"
	"errors"
	"fmt"

	"github.com/outpost-iot/outpost/accel"
)

// Tool frames, client to agent (../shared/notes/agents-sdk.md §10.4), and
// the update the agent broadcasts after applying one.
const (
	TypeToolResult     = "cf_agent_tool_result"
	TypeToolApproval   = "cf_agent_tool_approval"
	TypeMessageUpdated = "cf_agent_message_updated"
)

// Tool is a server-side tool written in Go: the model may call it, the
// agent runs it and gives the model its result, then the model goes on
// (up to Config.MaxSteps model calls per turn).
type Tool struct {
	// Name is what the model calls it: 1 to 64 of a-z A-Z 0-9 _ -.
	Name string
	// Description tells the model what it does.
	Description string
	// Parameters is the JSON schema of its input, an object schema, as
	// decoded JSON (map[string]any); nil is an object with no properties.
	Parameters map[string]any
	// Execute runs the tool with the model's input (decoded JSON: a
	// map[string]any for an object) and returns its output (any value
	// that encodes as JSON) or an error, which the model is told. It runs
	// on a goroutine of its own, not the agent's: it must not use the
	// agenthost.Context. ctx ends when the turn is cancelled or cleared,
	// or the gateway shuts down; WriteData(ctx, ...) attaches data parts
	// to the reply while it runs.
	Execute func(ctx context.Context, input any) (any, error)
	// NeedsApproval, when set and true for an input, makes the call wait
	// for a person's cf_agent_tool_approval before it runs: the pending
	// call is stored first, then the tool-approval-request chunk is sent.
	NeedsApproval func(input any) bool
}

// ClientTool is a tool the client declared in its request (the body's
// clientTools): the client runs it and sends the result in
// cf_agent_tool_result.
type ClientTool struct {
	Name        string
	Description string
	Parameters  map[string]any
}

// DataPart is a data-* chunk: typed JSON attached to the reply. Parts with
// an ID replace an earlier part of the same Type and ID (a progress
// display); a Transient part is sent to the clients (and kept in the
// stream for a resume) but is not stored in the message.
type DataPart struct {
	// Type is "data-" followed by a name of one's own.
	Type      string
	ID        string
	Data      any
	Transient bool
}

// chunk is the part as a UI-message-stream chunk.
func (d DataPart) chunk() (map[string]any, error) {
	if len(d.Type) <= len("data-") || d.Type[:5] != "data-" {
		return nil, fmt.Errorf("chat: data part type %q does not start with data-", d.Type)
	}
	c := map[string]any{"type": d.Type, "data": d.Data}
	if d.ID != "" {
		c["id"] = d.ID
	}
	if d.Transient {
		c["transient"] = true
	}
	return c, nil
}

// ErrNoTurn is returned by WriteData outside a tool run, and by
// Agent.WriteData when no reply is streaming.
var ErrNoTurn = errors.New("chat: no reply is streaming")

type dataWriterKey struct{}

// dataWriter sends a data chunk into the turn a tool runs in.
type dataWriter func(chunk map[string]any) error

// WriteData attaches a data part to the reply whose tool is running: ctx
// is the one Tool.Execute got. It returns ErrNoTurn for another context,
// and the turn's error once it has ended.
func WriteData(ctx context.Context, part DataPart) error {
	w, _ := ctx.Value(dataWriterKey{}).(dataWriter)
	if w == nil {
		return ErrNoTurn
	}
	c, err := part.chunk()
	if err != nil {
		return err
	}
	return w(c)
}

// toolSet is the tools one turn offers: the class's server tools and the
// client's.
type toolSet struct {
	server map[string]Tool
	client map[string]ClientTool
}

func newToolSet(server []Tool, client []ClientTool) toolSet {
	ts := toolSet{server: map[string]Tool{}, client: map[string]ClientTool{}}
	for _, t := range server {
		ts.server[t.Name] = t
	}
	for _, t := range client {
		if _, ok := ts.server[t.Name]; !ok {
			ts.client[t.Name] = t
		}
	}
	return ts
}

func (ts toolSet) empty() bool { return len(ts.server) == 0 && len(ts.client) == 0 }

// accel is the tools as the model is offered them, server tools first.
func (ts toolSet) accel(order []Tool, client []ClientTool) []accel.Tool {
	var out []accel.Tool
	add := func(name, desc string, params map[string]any) {
		var b []byte
		if params != nil {
			b, _ = jsonCodec.Marshal(params)
		}
		out = append(out, accel.Tool{Name: name, Description: desc, Parameters: b})
	}
	for _, t := range order {
		add(t.Name, t.Description, t.Parameters)
	}
	for _, t := range client {
		if _, ok := ts.server[t.Name]; !ok {
			add(t.Name, t.Description, t.Parameters)
		}
	}
	return out
}

// parseClientTools reads the body's clientTools: [{name, description?,
// parameters?}]; entries without a valid name are skipped.
func parseClientTools(v any) []ClientTool {
	arr, _ := v.([]any)
	var out []ClientTool
	seen := map[string]bool{}
	for _, x := range arr {
		m, _ := x.(map[string]any)
		name, _ := m["name"].(string)
		if !accel.ValidToolName(name) || seen[name] {
			continue
		}
		seen[name] = true
		desc, _ := m["description"].(string)
		params, _ := m["parameters"].(map[string]any)
		out = append(out, ClientTool{Name: name, Description: desc, Parameters: params})
	}
	return out
}

// clientToolValues is tools as the body carries them.
func clientToolValues(tools []ClientTool) []any {
	out := make([]any, 0, len(tools))
	for _, t := range tools {
		m := map[string]any{"name": t.Name}
		if t.Description != "" {
			m["description"] = t.Description
		}
		if t.Parameters != nil {
			m["parameters"] = t.Parameters
		}
		out = append(out, m)
	}
	return out
}

// ToolResult is a decoded cf_agent_tool_result: a client tool's output
// (or error), and whether the agent should go on with the turn.
type ToolResult struct {
	ToolCallID string
	ToolName   string
	Output     any
	// State is "output-available" or "output-error".
	State        string
	ErrorText    string
	AutoContinue bool
	// ClientTools, when not empty, replaces the stored client tools.
	ClientTools []ClientTool
}

// ParseToolResult decodes cf_agent_tool_result: {toolCallId, toolName?,
// output, state?, errorText?, autoContinue?, clientTools?}. output may be
// JSON text on CBOR connections too (it is taken as the value it is).
func ParseToolResult(frame map[string]any) (ToolResult, error) {
	r := ToolResult{State: "output-available"}
	r.ToolCallID, _ = frame["toolCallId"].(string)
	if r.ToolCallID == "" || len(r.ToolCallID) > MaxIDBytes {
		return r, fmt.Errorf("%w: toolCallId must be a string of 1 to %d bytes", ErrBadFrame, MaxIDBytes)
	}
	r.ToolName, _ = frame["toolName"].(string)
	r.Output = frame["output"]
	switch st, _ := frame["state"].(string); st {
	case "", "output-available":
	case "output-error":
		r.State = st
		r.ErrorText, _ = frame["errorText"].(string)
	default:
		return r, fmt.Errorf("%w: state %q is not output-available or output-error", ErrBadFrame, st)
	}
	r.AutoContinue, _ = frame["autoContinue"].(bool)
	r.ClientTools = parseClientTools(frame["clientTools"])
	return r, nil
}

// ToolApproval is a decoded cf_agent_tool_approval.
type ToolApproval struct {
	ToolCallID   string
	Approved     bool
	Reason       string
	AutoContinue bool
}

// ParseToolApproval decodes cf_agent_tool_approval: {toolCallId,
// approved, reason?, autoContinue?}.
func ParseToolApproval(frame map[string]any) (ToolApproval, error) {
	var a ToolApproval
	a.ToolCallID, _ = frame["toolCallId"].(string)
	if a.ToolCallID == "" || len(a.ToolCallID) > MaxIDBytes {
		return a, fmt.Errorf("%w: toolCallId must be a string of 1 to %d bytes", ErrBadFrame, MaxIDBytes)
	}
	approved, ok := frame["approved"].(bool)
	if !ok {
		return a, fmt.Errorf("%w: approved must be true or false", ErrBadFrame)
	}
	a.Approved = approved
	a.Reason, _ = frame["reason"].(string)
	a.AutoContinue, _ = frame["autoContinue"].(bool)
	return a, nil
}
