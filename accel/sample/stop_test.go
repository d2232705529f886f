package sample

import (
	"strings"
	"testing"
)

// refStop is the non-streaming reference: the text before the stop string
// that completes earliest (longest on a tie), and whether one occurred.
func refStop(text string, stops []string) (string, bool) {
	start, end := -1, -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 {
			e := i + len(s)
			if end < 0 || e < end || (e == end && i < start) {
				start, end = i, e
			}
		}
	}
	if start < 0 {
		return text, false
	}
	return text[:start], true
}

// feed runs chunks through a matcher and returns everything emitted
// (including Flush), whether it stopped, and the per-chunk emissions.
func feed(stops, chunks []string) (string, bool, []string) {
	m := NewStopMatcher(stops)
	var out strings.Builder
	var per []string
	stopped := false
	for _, c := range chunks {
		e, st := m.Add(c)
		out.WriteString(e)
		per = append(per, e)
		if st {
			stopped = true
		}
	}
	out.WriteString(m.Flush())
	return out.String(), stopped, per
}

func TestStopMatcher(t *testing.T) {
	cases := []struct {
		name    string
		stops   []string
		chunks  []string
		want    string
		stopped bool
		per     []string // optional per-chunk emissions
	}{
		{"split across chunks", []string{"</s>"}, []string{"hello <", "/", "s> tail"}, "hello ", true,
			[]string{"hello ", "", ""}},
		{"false holdback released", []string{"</s>"}, []string{"a <", "b"}, "a <b", false,
			[]string{"a ", "<b"}},
		{"no holdback when impossible", []string{"STOP"}, []string{"abc", "def"}, "abcdef", false,
			[]string{"abc", "def"}},
		{"ab before abc", []string{"abc", "ab"}, []string{"xa", "bc"}, "x", true, nil},
		{"abc only, ab not stop", []string{"abc"}, []string{"xab", "d", "abc"}, "xabd", true,
			[]string{"x", "abd", ""}},
		{"overlapping prefix restart", []string{"aab"}, []string{"a", "a", "a", "b"}, "a", true, nil},
		{"multiple stops earliest end", []string{"world", "lo w"}, []string{"hello world"}, "hel", true, nil},
		{"multiple stops second", []string{"###", "\n\n"}, []string{"line\n", "\nmore"}, "line", true, nil},
		{"tie prefers longer", []string{"c", "abc"}, []string{"xabc"}, "x", true, nil},
		{"no stops", nil, []string{"a", "b"}, "ab", false, []string{"a", "b"}},
		{"flush held text", []string{"END"}, []string{"the EN"}, "the EN", false, []string{"the "}},
		{"unicode", []string{"→stop"}, []string{"x →", "st", "op y"}, "x ", true, nil},
		{"after stop", []string{"s"}, []string{"as", "more"}, "a", true, []string{"a", ""}},
	}
	for _, c := range cases {
		got, st, per := feed(c.stops, c.chunks)
		if got != c.want || st != c.stopped {
			t.Errorf("%s: got %q,%v want %q,%v", c.name, got, st, c.want, c.stopped)
		}
		if c.per != nil {
			for i := range c.per {
				if per[i] != c.per[i] {
					t.Errorf("%s: chunk %d emitted %q want %q", c.name, i, per[i], c.per[i])
				}
			}
		}
		ref, rst := refStop(strings.Join(c.chunks, ""), c.stops)
		if ref != got || rst != st {
			t.Errorf("%s: reference %q,%v disagrees with %q,%v", c.name, ref, rst, got, st)
		}
	}
	m := NewStopMatcher([]string{"x"})
	m.Add("ax")
	if !m.Stopped() || m.Flush() != "" {
		t.Error("Stopped/Flush after stop")
	}
	m.Reset()
	if e, st := m.Add("b"); e != "b" || st || m.Stopped() {
		t.Errorf("after Reset: %q %v", e, st)
	}
}

func FuzzStopMatcher(f *testing.F) {
	f.Add("hello </s> world", "</s>", "\n\n", uint64(12345))
	f.Add("xxabcab", "abc", "ab", uint64(7))
	f.Add("aaab", "aab", "b", uint64(1))
	f.Add("no stop here", "zz", "", uint64(99))
	f.Fuzz(func(t *testing.T, text, s1, s2 string, cuts uint64) {
		stops := []string{s1, s2}
		// Split text into chunks at positions derived from cuts.
		var chunks []string
		rest := text
		for c := cuts; len(rest) > 0; c >>= 3 {
			n := int(c%5) + 0
			if c == 0 {
				n = len(rest)
			}
			n = min(n, len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
			if c == 0 {
				break
			}
		}
		got, st, _ := feed(stops, chunks)
		want, wst := refStop(text, stops)
		if got != want || st != wst {
			t.Fatalf("chunks %q stops %q: got %q,%v want %q,%v", chunks, stops, got, st, want, wst)
		}
	})
}
