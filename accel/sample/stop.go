package sample

import "strings"

// StopMatcher finds stop strings in streamed text. It holds back the longest
// suffix of the text seen so far that could still grow into a stop string,
// and emits everything before it.
//
// Generation stops at the first position in the stream where any stop string
// completes (the earliest end; on a tie, the longest stop string). The text
// before that stop string is emitted and the rest is discarded. The result
// does not depend on how the text is split into chunks.
type StopMatcher struct {
	stops   []string
	pending string
	stopped bool
}

// NewStopMatcher returns a matcher for stops; empty strings are ignored.
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Add appends a chunk of generated text. It returns the text that is now
// safe to emit and whether a stop string has completed. Once stopped, Add
// returns "", true.
func (m *StopMatcher) Add(text string) (emit string, stopped bool) {
	if m.stopped {
		return "", true
	}
	buf := m.pending + text
	if len(m.stops) == 0 {
		m.pending = ""
		return buf, false
	}
	start, end := -1, -1
	for _, s := range m.stops {
		i := strings.Index(buf, s)
		if i < 0 {
			continue
		}
		e := i + len(s)
		if end < 0 || e < end || (e == end && i < start) {
			start, end = i, e
		}
	}
	if start >= 0 {
		m.stopped = true
		m.pending = ""
		return buf[:start], true
	}
	hold := 0
	for _, s := range m.stops {
		for l := min(len(s)-1, len(buf)); l > hold; l-- {
			if strings.HasSuffix(buf, s[:l]) {
				hold = l
				break
			}
		}
	}
	m.pending = buf[len(buf)-hold:]
	return buf[:len(buf)-hold], false
}

// Flush returns the held-back text (when generation ends without a stop
// string) and clears it. After a stop it returns "".
func (m *StopMatcher) Flush() string {
	p := m.pending
	m.pending = ""
	return p
}

// Stopped reports whether a stop string has completed.
func (m *StopMatcher) Stopped() bool { return m.stopped }

// Reset clears held-back text and the stopped state for a new stream.
func (m *StopMatcher) Reset() {
	m.pending = ""
	m.stopped = false
}
