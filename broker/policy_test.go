package broker

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/outpost-iot/outpost/wire"
)

// TestConnectPolicy: docs/protocol.md rule 6.2, the MQTT connection
// options from user properties and the username query.
func TestConnectPolicy(t *testing.T) {
	up := func(kv ...string) []packets.UserProperty {
		var out []packets.UserProperty
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, packets.UserProperty{Key: kv[i], Val: kv[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		username string
		props    []packets.UserProperty
		want     wire.Options
		bad      string // substring of the error, "" for none
	}{
		{"", nil, wire.Options{Codec: wire.CBOR}, ""},
		{"alice", nil, wire.Options{Codec: wire.CBOR}, ""},
		{"alice?", nil, wire.Options{Codec: wire.CBOR}, ""},
		{"alice?codec=json&protocol=true", nil, wire.Options{Codec: wire.JSON, Protocol: true}, ""},
		{"?protocol=true", nil, wire.Options{Codec: wire.CBOR, Protocol: true}, ""},
		{"", up("codec", "json", "protocol", "true", "fw", "1"), wire.Options{Codec: wire.JSON, Protocol: true}, ""},
		{"?codec=cbor", up("codec", "json"), wire.Options{Codec: wire.CBOR}, ""}, // the query wins
		{"", up("codec", "xml"), wire.Options{}, "codec"},
		{"", up("protocol", "1"), wire.Options{}, "protocol"},
		{"?codec=JSON", nil, wire.Options{}, "codec"},
		{"?readonly=true", nil, wire.Options{}, "readonly"},
		{"?codec=json&codec=json", nil, wire.Options{}, "more than once"},
		{"?%zz", nil, wire.Options{}, "query"},
	} {
		p, err := connectPolicy([]byte(tc.username), tc.props)
		switch {
		case tc.bad != "":
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q %v: error %v, want one naming %q", tc.username, tc.props, err, tc.bad)
			}
		case err != nil:
			t.Errorf("%q %v: %v", tc.username, tc.props, err)
		case p.opts != tc.want:
			t.Errorf("%q %v: %+v, want %+v", tc.username, tc.props, p.opts, tc.want)
		}
	}
}

// FuzzConnectPolicy: the username query parser never panics, accepts only
// the documented values, and the authenticating name never keeps a '?'.
func FuzzConnectPolicy(f *testing.F) {
	for _, s := range []string{"", "alice", "alice?codec=json&protocol=true", "?codec=cbor", "?protocol=false",
		"?codec=json&codec=cbor", "a?b?c", "?%zz", "?codec=json;protocol=true", "?=", "?&&", "dev?codec=json#x"} {
		f.Add(s, "codec", "json")
	}
	f.Add("", "protocol", "maybe")
	f.Fuzz(func(t *testing.T, username, key, val string) {
		p, err := connectPolicy([]byte(username), []packets.UserProperty{{Key: key, Val: val}})
		user, _, _ := splitUsername(username)
		if strings.Contains(user, "?") {
			t.Fatalf("user %q keeps a '?'", user)
		}
		if err != nil {
			return
		}
		if p.opts.Codec != wire.CBOR && p.opts.Codec != wire.JSON {
			t.Fatalf("codec %q accepted", p.opts.Codec)
		}
		if p.props[key] != val {
			t.Fatalf("user property %q lost", key)
		}
	})
}

// TestAgentPath: rule 8.1, /agents/{class}/{name}[/rest] with a
// percent-decoded name.
func TestAgentPath(t *testing.T) {
	for path, want := range map[string]string{
		"/agents/echo/a":                 "echo/a",
		"/agents/echo/a/get-messages":    "echo/a",
		"/agents/echo/room%2F1":          "echo/room/1",
		"/agents/echo/caf%C3%A9?x":       "echo/café?x",
		"/agents/echo/":                  "",
		"/agents//a":                     "",
		"/agents/echo":                   "",
		"/agents/echo/%zz":               "",
		"/other/echo/a":                  "",
		"/agents/chat-agent/user%20one/": "chat-agent/user one",
	} {
		addr, ok := agentPath(path)
		got := ""
		if ok {
			got = addr.String()
		}
		if got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

// FuzzAgentPath: any escaped path either fails or yields a non-empty class
// and name that escape back to the path's segments.
func FuzzAgentPath(f *testing.F) {
	for _, s := range []string{"/agents/echo/a", "/agents/echo/room%2F1/rest", "/agents/x/%zz", "/agents//", "/agents/a/b%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		addr, ok := agentPath(path)
		if !ok {
			return
		}
		if addr.Class == "" || addr.Name == "" || strings.Contains(addr.Class, "/") {
			t.Fatalf("%q: %+v", path, addr)
		}
		if _, err := url.PathUnescape(url.PathEscape(addr.Name)); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzAgentTopic: rules 7.1 to 7.3, {prefix}/{class}/{name}/{in|out}
// topics. Whatever is accepted rebuilds the topic exactly, has a class
// without '/' and no wildcards.
func FuzzAgentTopic(f *testing.F) {
	for _, s := range []string{"agents/echo/a/in", "agents/echo/a/b/out", "agents/echo//out", "agents//a/in",
		"agents/echo/+/out", "agents/#", "$share/g/agents/echo/a/out", "agentsx/echo/a/in", "agents/echo/a/up"} {
		f.Add(s)
	}
	m := &mqttAgents{prefix: "agents"}
	f.Fuzz(func(t *testing.T, topic string) {
		addr, dir, ok := m.agentTopic(topic)
		if !ok {
			return
		}
		if got := "agents/" + addr.Class + "/" + addr.Name + "/" + dir; got != topic {
			t.Fatalf("%q rebuilt as %q", topic, got)
		}
		if addr.Class == "" || addr.Name == "" || strings.Contains(addr.Class, "/") || strings.ContainsAny(topic, "+#") {
			t.Fatalf("%q: %+v", topic, addr)
		}
		if (dir == "out") != m.isOut(topic) {
			t.Fatalf("%q: isOut disagrees", topic)
		}
	})
}
