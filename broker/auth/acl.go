package auth

import (
	"fmt"
	"strings"
)

// Access is what a rule grants.
type Access string

// The values a rule's access may take. An empty access means read and write.
const (
	AccessReadWrite Access = "readwrite"
	AccessRead      Access = "read"
	AccessWrite     Access = "write"
	AccessDeny      Access = "deny"
)

// Rule is one access rule. Exactly one of Topic and Agent is set.
//
// A Topic rule is an MQTT topic filter (with + and #) that governs publishing
// (write) and subscribing and receiving (read) on matching topics. An Agent
// rule is "class/name" where either part may contain * (any run of
// characters); it grants publishing to the agent's in topic (write),
// subscribing to its out topic (read) and, for read and write together, its
// WebSocket path /agents/{class}/{name}. In both, %u is replaced by the
// username and %c by the client id; a username or client id that contains
// '/', '+', '#' or '*' never matches a rule that substitutes it, so it
// cannot widen its own rules.
type Rule struct {
	Topic  string `yaml:"topic,omitempty"`
	Agent  string `yaml:"agent,omitempty"`
	Access Access `yaml:"access,omitempty"`
}

func (r Rule) validate() error {
	if (r.Topic == "") == (r.Agent == "") {
		return fmt.Errorf("acl rule must set exactly one of topic and agent")
	}
	switch r.Access {
	case "", AccessReadWrite, AccessRead, AccessWrite, AccessDeny:
	default:
		return fmt.Errorf("acl rule access %q: want read, write, readwrite or deny", r.Access)
	}
	if r.Topic != "" {
		if err := validFilter(r.Topic); err != nil {
			return fmt.Errorf("acl rule topic %q: %w", r.Topic, err)
		}
	}
	if r.Agent != "" {
		class, name, ok := strings.Cut(r.Agent, "/")
		if !ok || class == "" || name == "" {
			return fmt.Errorf("acl rule agent %q: want class/name, e.g. twin/%%u", r.Agent)
		}
	}
	return nil
}

func (r Rule) allows(write bool) bool {
	switch r.Access {
	case "", AccessReadWrite:
		return true
	case AccessRead:
		return !write
	case AccessWrite:
		return write
	}
	return false
}

// subject is who is asking: the values substituted into rules.
type subject struct {
	user, client string
}

// expand substitutes %u and %c. It returns false when a substituted value
// could change the pattern's structure.
func (s subject) expand(pattern string) (string, bool) {
	if !strings.Contains(pattern, "%") {
		return pattern, true
	}
	if strings.Contains(pattern, "%u") {
		if !safeValue(s.user) {
			return "", false
		}
		pattern = strings.ReplaceAll(pattern, "%u", s.user)
	}
	if strings.Contains(pattern, "%c") {
		if !safeValue(s.client) {
			return "", false
		}
		pattern = strings.ReplaceAll(pattern, "%c", s.client)
	}
	return pattern, true
}

func safeValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, "/+#*")
}

// decide walks the rules in order; the first that applies decides. applies
// returns whether the rule speaks about the request.
func decide(rules []Rule, s subject, write bool, applies func(r Rule, pattern string) bool) bool {
	for _, r := range rules {
		raw := r.Topic
		if raw == "" {
			raw = r.Agent
		}
		pattern, ok := s.expand(raw)
		if !ok {
			continue
		}
		if applies(r, pattern) {
			return r.allows(write) && r.Access != AccessDeny
		}
	}
	return false
}

// agentTopic splits prefix/{class}/{name}/{in|out}. A name may contain '/'.
func agentTopic(prefix, topic string) (class, name, dir string, ok bool) {
	rest, found := strings.CutPrefix(topic, prefix+"/")
	if !found {
		return "", "", "", false
	}
	class, rest, found = strings.Cut(rest, "/")
	if !found || class == "" {
		return "", "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", "", "", false
	}
	name, dir = rest[:i], rest[i+1:]
	if dir != "in" && dir != "out" {
		return "", "", "", false
	}
	return class, name, dir, true
}

// agentMatch matches "class/name" against an agent pattern with * globs.
func agentMatch(pattern, class, name string) bool {
	pc, pn, _ := strings.Cut(pattern, "/")
	return glob(pc, class) && glob(pn, name)
}

// glob matches s against a pattern in which * stands for any run of
// characters (including none) and every other character for itself.
func glob(pattern, s string) bool {
	star, mark := -1, 0
	p, i := 0, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// validFilter checks MQTT topic filter syntax [MQTT-4.7.1].
func validFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("# must be a whole last level")
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("+ must be a whole level")
		}
	}
	return nil
}

// topicMatch reports whether topic matches filter. Wildcards at the first
// level do not match topics that start with '$' [MQTT-4.7.2-1].
func topicMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// "a/#" also matches "a" [MQTT-4.7.1-2].
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// filterCovers reports whether every topic that sub matches is also matched
// by rule, so a subscription to sub can be granted under rule.
func filterCovers(rule, sub string) bool {
	if strings.HasPrefix(sub, "$") != strings.HasPrefix(rule, "$") &&
		(strings.HasPrefix(rule, "+") || strings.HasPrefix(rule, "#")) {
		return false
	}
	for {
		rl, rrest, rmore := strings.Cut(rule, "/")
		if rl == "#" {
			return true
		}
		sl, srest, smore := strings.Cut(sub, "/")
		switch {
		case sl == "#":
			return false
		case rl == "+":
		case sl == "+" || rl != sl:
			return false
		}
		switch {
		case !rmore && !smore:
			return true
		case !smore:
			return rrest == "#"
		case !rmore:
			return false
		}
		rule, sub = rrest, srest
	}
}
