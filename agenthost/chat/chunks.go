package chat

import "strings"

// builder builds an assistant message from UI-message-stream chunks, the
// way the AI SDK's message reader and the SDK's applyChunkToParts do:
// start (messageId, messageMetadata); text-start, text-delta, text-end
// and reasoning-start, reasoning-delta, reasoning-end (parts of type text
// and reasoning, state streaming then done); start-step (a step-start
// part); the tool chunks (tool-input-start, -delta, -available, -error,
// tool-approval-request, tool-output-available, -error, -denied: one
// "tool-{name}" part per toolCallId moving through its states); finish
// and message-metadata (messageMetadata); data-* (kept unless transient,
// reconciled by type and id). Other chunk types are ignored.
type builder struct {
	msg   Message
	texts map[string]int    // open text and reasoning parts: type + chunk id → index in parts
	input map[string]string // tool input text streamed so far, by toolCallId
}

func newBuilder(id string) *builder {
	return &builder{msg: Message{ID: id, Role: RoleAssistant, Parts: []map[string]any{}}, texts: map[string]int{}, input: map[string]string{}}
}

// continueBuilder builds on msg (a continuation appends to the message it
// continues); msg is copied, not changed.
func continueBuilder(msg Message) *builder {
	b := newBuilder(msg.ID)
	for _, p := range msg.Parts {
		b.msg.Parts = append(b.msg.Parts, copyPart(p))
	}
	b.msg.Metadata = msg.Metadata
	return b
}

// message is the message built so far.
func (b *builder) message() Message { return b.msg }

// toolPart is the part of the tool call id, nil when none.
func (b *builder) toolPart(id string) map[string]any { return findToolPart(b.msg.Parts, id) }

// findToolPart is the tool part of parts with that toolCallId, nil when
// none.
func findToolPart(parts []map[string]any, id string) map[string]any {
	if id == "" {
		return nil
	}
	for _, p := range parts {
		if isToolPart(p) && p["toolCallId"] == id {
			return p
		}
	}
	return nil
}

// isToolPart reports whether p is a tool part: "tool-{name}" or
// "dynamic-tool".
func isToolPart(p map[string]any) bool {
	t, _ := p["type"].(string)
	return strings.HasPrefix(t, "tool-") || t == "dynamic-tool"
}

// approved reports whether a tool part's approval says approved.
func approved(p map[string]any) bool {
	a, _ := p["approval"].(map[string]any)
	ok, _ := a["approved"].(bool)
	return ok
}

// settled reports whether a tool part's state is final.
func settled(state any) bool {
	return state == "output-available" || state == "output-error" || state == "output-denied"
}

func (b *builder) apply(chunk map[string]any) {
	typ, _ := chunk["type"].(string)
	id, _ := chunk["id"].(string)
	call, _ := chunk["toolCallId"].(string)
	switch {
	case typ == "start":
		if mid, _ := chunk["messageId"].(string); mid != "" {
			b.msg.ID = mid
		}
		b.mergeMetadata(chunk["messageMetadata"])
	case typ == "finish", typ == "message-metadata":
		b.mergeMetadata(chunk["messageMetadata"])
	case typ == "text-start", typ == "reasoning-start":
		kind := strings.TrimSuffix(typ, "-start")
		b.texts[kind+"\x00"+id] = len(b.msg.Parts)
		b.msg.Parts = append(b.msg.Parts, map[string]any{"type": kind, "text": "", "state": "streaming"})
	case typ == "text-delta", typ == "reasoning-delta":
		kind := strings.TrimSuffix(typ, "-delta")
		i, ok := b.texts[kind+"\x00"+id]
		if !ok {
			b.apply(map[string]any{"type": kind + "-start", "id": id})
			i = b.texts[kind+"\x00"+id]
		}
		delta, _ := chunk["delta"].(string)
		p := b.msg.Parts[i]
		s, _ := p["text"].(string)
		p["text"] = s + delta
	case typ == "text-end", typ == "reasoning-end":
		key := strings.TrimSuffix(typ, "-end") + "\x00" + id
		if i, ok := b.texts[key]; ok {
			b.msg.Parts[i]["state"] = "done"
			delete(b.texts, key)
		}
	case typ == "start-step":
		b.msg.Parts = append(b.msg.Parts, map[string]any{"type": "step-start"})
	case typ == "tool-input-start":
		name, _ := chunk["toolName"].(string)
		if call == "" || name == "" || b.toolPart(call) != nil {
			return
		}
		b.msg.Parts = append(b.msg.Parts, map[string]any{"type": "tool-" + name, "toolCallId": call, "state": "input-streaming"})
	case typ == "tool-input-delta":
		if p := b.toolPart(call); p != nil && p["state"] == "input-streaming" {
			d, _ := chunk["inputTextDelta"].(string)
			b.input[call] += d
		}
	case typ == "tool-input-available", typ == "tool-input-error":
		name, _ := chunk["toolName"].(string)
		p := b.toolPart(call)
		if p == nil {
			if call == "" || name == "" {
				return
			}
			p = map[string]any{"type": "tool-" + name, "toolCallId": call}
			b.msg.Parts = append(b.msg.Parts, p)
		} else if p["state"] != "input-streaming" {
			return
		}
		delete(b.input, call)
		p["input"] = chunk["input"]
		p["state"] = "input-available"
		if typ == "tool-input-error" {
			p["state"], p["errorText"] = "output-error", chunk["errorText"]
		}
	case typ == "tool-approval-request":
		p := b.toolPart(call)
		if p == nil || p["state"] == "approval-responded" || settled(p["state"]) {
			return
		}
		p["state"] = "approval-requested"
		p["approval"] = map[string]any{"id": chunk["approvalId"]}
	case typ == "tool-output-available":
		if p := b.toolPart(call); p != nil {
			p["state"], p["output"] = "output-available", chunk["output"]
			delete(p, "errorText")
			if pre, ok := chunk["preliminary"].(bool); ok {
				p["preliminary"] = pre
			}
		}
	case typ == "tool-output-error":
		if p := b.toolPart(call); p != nil {
			p["state"], p["errorText"] = "output-error", chunk["errorText"]
		}
	case typ == "tool-output-denied":
		// A call a person approved is never denied afterwards.
		if p := b.toolPart(call); p != nil && !settled(p["state"]) && !approved(p) {
			p["state"] = "output-denied"
		}
	case strings.HasPrefix(typ, "data-"):
		if t, _ := chunk["transient"].(bool); t {
			return
		}
		part := map[string]any{"type": typ, "data": chunk["data"]}
		if id != "" {
			part["id"] = id
			for _, p := range b.msg.Parts {
				if p["type"] == typ && p["id"] == id {
					p["data"] = chunk["data"]
					return
				}
			}
		}
		b.msg.Parts = append(b.msg.Parts, part)
	}
}

// closeTexts marks the text and reasoning parts still streaming as done.
func (b *builder) closeTexts() {
	for id, i := range b.texts {
		b.msg.Parts[i]["state"] = "done"
		delete(b.texts, id)
	}
}

func (b *builder) mergeMetadata(v any) {
	add, ok := v.(map[string]any)
	if !ok || len(add) == 0 {
		return
	}
	cur, _ := b.msg.Metadata.(map[string]any)
	merged := make(map[string]any, len(cur)+len(add))
	for k, x := range cur {
		merged[k] = x
	}
	for k, x := range add {
		merged[k] = x
	}
	b.msg.Metadata = merged
}
