package chat

import "strings"

// builder builds an assistant message from UI-message-stream chunks, the
// way the SDK's applyChunkToParts does for the chunk types Outpost sends
// and data parts: start (messageId, messageMetadata), text-start,
// text-delta, text-end, finish and message-metadata (messageMetadata),
// data-* (kept unless transient, reconciled by type and id). Other chunk
// types are ignored.
type builder struct {
	msg   Message
	texts map[string]int // open text parts: chunk id → index in parts
}

func newBuilder(id string) *builder {
	return &builder{msg: Message{ID: id, Role: RoleAssistant, Parts: []map[string]any{}}, texts: map[string]int{}}
}

// message is the message built so far.
func (b *builder) message() Message { return b.msg }

func (b *builder) apply(chunk map[string]any) {
	typ, _ := chunk["type"].(string)
	id, _ := chunk["id"].(string)
	switch {
	case typ == "start":
		if mid, _ := chunk["messageId"].(string); mid != "" {
			b.msg.ID = mid
		}
		b.mergeMetadata(chunk["messageMetadata"])
	case typ == "finish", typ == "message-metadata":
		b.mergeMetadata(chunk["messageMetadata"])
	case typ == "text-start":
		b.texts[id] = len(b.msg.Parts)
		b.msg.Parts = append(b.msg.Parts, map[string]any{"type": "text", "text": "", "state": "streaming"})
	case typ == "text-delta":
		i, ok := b.texts[id]
		if !ok {
			b.apply(map[string]any{"type": "text-start", "id": id})
			i = b.texts[id]
		}
		delta, _ := chunk["delta"].(string)
		p := b.msg.Parts[i]
		s, _ := p["text"].(string)
		p["text"] = s + delta
	case typ == "text-end":
		if i, ok := b.texts[id]; ok {
			b.msg.Parts[i]["state"] = "done"
			delete(b.texts, id)
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

// closeTexts marks the text parts still streaming as done.
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
