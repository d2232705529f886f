package chat

import (
	"errors"
	"fmt"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// toolResult applies a client tool's cf_agent_tool_result to its tool
// part (state output-available, or output-error), stores the message,
// broadcasts cf_agent_message_updated and, with autoContinue, continues
// the turn once no call of that message waits any more.
func (a *Agent) toolResult(ctx *agenthost.Context, c wire.Conn, frame map[string]any) error {
	r, err := ParseToolResult(frame)
	if err != nil {
		return err
	}
	if len(r.ClientTools) > 0 {
		if err := setRequestContext(ctx, contextLastClientTools, clientToolValues(r.ClientTools)); err != nil {
			ctx.Logger().Warn("chat: store the client tools", "error", err)
		}
	}
	msg, err := a.updatePart(ctx, r.ToolCallID, func(p map[string]any) error {
		if p["state"] == r.State && r.State == "output-available" && sameJSON(p["output"], r.Output) {
			return errApplied // the client's message sync brought it first
		}
		if p["state"] != "input-available" {
			return fmt.Errorf("%w: tool call %q is %v, not waiting for a result", ErrBadFrame, r.ToolCallID, p["state"])
		}
		if r.State == "output-error" {
			p["state"], p["errorText"] = "output-error", r.ErrorText
			return nil
		}
		p["state"], p["output"], p["preliminary"] = "output-available", r.Output, false
		return nil
	})
	if err != nil {
		return err
	}
	if r.AutoContinue {
		return a.continueAfter(ctx, c, msg)
	}
	return nil
}

// toolApproval applies a person's cf_agent_tool_approval to its tool part
// (state approval-responded; the approval keeps its id and gains
// approved, and reason when given), stores the message, broadcasts
// cf_agent_message_updated and, with autoContinue, continues the turn
// (which runs the tool, or tells the model it was denied) once no call of
// that message waits any more.
func (a *Agent) toolApproval(ctx *agenthost.Context, c wire.Conn, frame map[string]any) error {
	ap, err := ParseToolApproval(frame)
	if err != nil {
		return err
	}
	msg, err := a.updatePart(ctx, ap.ToolCallID, func(p map[string]any) error {
		if p["state"] == "approval-responded" && approved(p) == ap.Approved {
			return errApplied // the client's message sync brought it first
		}
		if p["state"] != "approval-requested" && p["state"] != "input-available" {
			return fmt.Errorf("%w: tool call %q is %v, not waiting for an approval", ErrBadFrame, ap.ToolCallID, p["state"])
		}
		approval, _ := p["approval"].(map[string]any)
		next := map[string]any{"id": randomID("approval_", 8)}
		for k, v := range approval {
			next[k] = v
		}
		next["approved"] = ap.Approved
		if ap.Reason != "" {
			next["reason"] = ap.Reason
		}
		p["state"], p["approval"] = "approval-responded", next
		return nil
	})
	if err != nil {
		return err
	}
	if ap.AutoContinue {
		return a.continueAfter(ctx, c, msg)
	}
	return nil
}

// errApplied tells updatePart that the part already is as the frame
// would make it: nothing to store, the frame is not refused.
var errApplied = errors.New("already applied")

// updatePart finds the tool part of callID, in the reply that streams or
// else in the stored messages (newest first), lets fn change it, stores
// the message and broadcasts cf_agent_message_updated to every
// connection. It returns the message as updated.
func (a *Agent) updatePart(ctx *agenthost.Context, callID string, fn func(map[string]any) error) (Message, error) {
	var msg Message
	found := false
	if t := liveTurn(ctx); t != nil {
		if p := t.b.toolPart(callID); p != nil {
			if err := fn(p); errors.Is(err, errApplied) {
				return t.b.message(), nil
			} else if err != nil {
				return Message{}, err
			}
			msg, found = t.b.message(), true
		}
	}
	if !found {
		history, err := loadMessages(ctx)
		if err != nil {
			return Message{}, err
		}
		for i := len(history) - 1; i >= 0 && !found; i-- {
			p := findToolPart(history[i].Parts, callID)
			if p == nil {
				continue
			}
			if err := fn(p); errors.Is(err, errApplied) {
				return history[i], nil
			} else if err != nil {
				return Message{}, err
			}
			msg, found = history[i], true
		}
	}
	if !found {
		return Message{}, fmt.Errorf("%w: no tool call %q", ErrBadFrame, callID)
	}
	if err := upsertMessages(ctx, []Message{msg}, a.cfg.MaxPersistedMessages); err != nil {
		return Message{}, err
	}
	ctx.Broadcast(wire.Frame{Kind: wire.Chat, Value: map[string]any{"type": TypeMessageUpdated, "message": msg.Value()}})
	return msg, nil
}

// continueAfter starts (or queues behind the reply that streams) a
// continuation of msg's turn, unless one of msg's tool calls still waits
// for a client's result or a person's approval.
func (a *Agent) continueAfter(ctx *agenthost.Context, c wire.Conn, msg Message) error {
	for _, p := range msg.Parts {
		if isToolPart(p) && (p["state"] == "input-available" || p["state"] == "approval-requested" || p["state"] == "input-streaming") {
			return nil
		}
	}
	return a.enqueue(ctx, queuedTurn{conn: c, req: Request{ID: randomID("", 4)}, continuation: true})
}

// WriteData attaches a data part to the reply that streams (for a class
// built on the chat agent, from its hooks, on the agent's goroutine). It
// returns ErrNoTurn when none streams.
func (a *Agent) WriteData(ctx *agenthost.Context, part DataPart) error {
	t := liveTurn(ctx)
	if t == nil || t.ended {
		return ErrNoTurn
	}
	c, err := part.chunk()
	if err != nil {
		return err
	}
	t.emit(ctx, c)
	return nil
}

// toolStateRank orders a tool part's states from first to last.
func toolStateRank(state any) int {
	switch state {
	case "input-streaming":
		return 0
	case "input-available":
		return 1
	case "approval-requested":
		return 2
	case "approval-responded":
		return 3
	case "output-available", "output-error", "output-denied":
		return 4
	}
	return -1
}

// mergeKnownToolState returns msgs with each tool part that is behind the
// stored part of the same call (a client's stale copy: still waiting for
// an output the agent has, say) replaced by the stored part, as the SDK
// merges the server's tool outputs into incoming messages. msgs is not
// changed.
func mergeKnownToolState(ctx *agenthost.Context, msgs []Message) ([]Message, error) {
	known := map[string]map[string]any{}
	loaded, copied := false, map[int]bool{}
	out := msgs
	for i, m := range msgs {
		if m.Role != RoleAssistant {
			continue
		}
		for j, p := range m.Parts {
			id, _ := p["toolCallId"].(string)
			if !isToolPart(p) || id == "" || toolStateRank(p["state"]) >= 4 {
				continue
			}
			if !loaded {
				stored, err := loadMessages(ctx)
				if err != nil {
					return nil, err
				}
				for _, sm := range stored {
					for _, sp := range sm.Parts {
						if sid, _ := sp["toolCallId"].(string); sid != "" && isToolPart(sp) {
							known[sid] = sp
						}
					}
				}
				loaded = true
			}
			sp, ok := known[id]
			if !ok || toolStateRank(sp["state"]) <= toolStateRank(p["state"]) {
				continue
			}
			if len(copied) == 0 {
				out = append([]Message(nil), msgs...)
			}
			if !copied[i] {
				copied[i] = true
				out[i].Parts = append([]map[string]any(nil), msgs[i].Parts...)
			}
			out[i].Parts[j] = copyPart(sp)
		}
	}
	return out, nil
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool {
	x, err1 := jsonCodec.Marshal(a)
	y, err2 := jsonCodec.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
