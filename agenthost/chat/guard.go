package chat

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// Row guard thresholds, the SDK's (../shared/notes/agents-sdk.md §10.3).
const (
	// compactMinChars: tool outputs and text parts longer than this (in
	// characters) are compacted.
	compactMinChars = 1000
	// compactPreviewChars: how much of a compacted value is kept.
	compactPreviewChars = 500
)

// guardRow returns m's JSON for its row, compacting m first when the JSON
// is over RowMaxBytes, as the SDK's row-size guard does: for an assistant
// message, every tool part in state output-available whose output's JSON
// is over 1,000 characters gets a short string in its place (its size, a
// hint to re-run the tool, a 500-character preview), listed in
// metadata.compactedToolOutputs; then, for any message still too large,
// text parts over 1,000 characters, first to last, are cut to a
// 500-character preview until the message fits, their indices listed in
// metadata.compactedTextParts. Only the stored copy changes. A message that
// still does not fit is refused. (Characters are Unicode code points here;
// the SDK counts UTF-16 units.)
func guardRow(m Message) ([]byte, Message, error) {
	b, err := wideCodec.Marshal(m.Value())
	if err != nil {
		return nil, m, err
	}
	if len(b) <= RowMaxBytes {
		return b, m, nil
	}
	m.Parts = slices.Clone(m.Parts)
	meta := map[string]any{}
	if cur, ok := m.Metadata.(map[string]any); ok {
		for k, v := range cur {
			meta[k] = v
		}
	}
	fits := func() bool {
		m.Metadata = meta
		b, err = wideCodec.Marshal(m.Value())
		return err == nil && len(b) <= RowMaxBytes
	}
	if m.Role == RoleAssistant {
		var ids []any
		for i, p := range m.Parts {
			if p["state"] != "output-available" || p["output"] == nil {
				continue
			}
			out, err := wideCodec.Marshal(p["output"])
			if err != nil || utf8.RuneCount(out) <= compactMinChars {
				continue
			}
			np := copyPart(p)
			np["output"] = fmt.Sprintf("This tool output was too large to persist in storage (%d bytes). "+
				"If the user asks about this data, suggest re-running the tool to get fresh results. Preview: %s...",
				len(out), preview(string(out)))
			m.Parts[i] = np
			id, _ := p["toolCallId"].(string)
			ids = append(ids, id)
		}
		if len(ids) > 0 {
			meta["compactedToolOutputs"] = ids
			if fits() {
				return b, m, nil
			}
		}
	}
	var cut []any
	for i, p := range m.Parts {
		text, _ := p["text"].(string)
		if p["type"] != "text" || utf8.RuneCountInString(text) <= compactMinChars {
			continue
		}
		np := copyPart(p)
		np["text"] = fmt.Sprintf("[Text truncated for storage (%d chars). First %d chars: %s...]",
			utf8.RuneCountInString(text), compactPreviewChars, preview(text))
		m.Parts[i] = np
		cut = append(cut, int64(i))
		meta["compactedTextParts"] = cut
		if fits() {
			return b, m, nil
		}
	}
	if fits() {
		return b, m, nil
	}
	return nil, m, fmt.Errorf("message %q is %d bytes of JSON after compaction, over the %d-byte row limit", m.ID, len(b), RowMaxBytes)
}

// copyPart copies a part, and the maps in it one level deep (a tool
// part's approval), so that changes to the copy do not reach p.
func copyPart(p map[string]any) map[string]any {
	np := make(map[string]any, len(p))
	for k, v := range p {
		if m, ok := v.(map[string]any); ok {
			mc := make(map[string]any, len(m))
			for k2, v2 := range m {
				mc[k2] = v2
			}
			v = mc
		}
		np[k] = v
	}
	return np
}

// preview is the first compactPreviewChars characters of s.
func preview(s string) string {
	n := 0
	for i := range s {
		if n == compactPreviewChars {
			return s[:i]
		}
		n++
	}
	return s
}
