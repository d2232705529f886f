package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestTopicMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"a/+/c", "a//c", true},
		{"+", "", true},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
	}
	for _, c := range cases {
		if got := topicMatch(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestFilterCovers(t *testing.T) {
	cases := []struct {
		rule, sub string
		want      bool
	}{
		{"a/#", "a/b", true},
		{"a/#", "a/+/c", true},
		{"a/#", "a/#", true},
		{"a/#", "a", true},
		{"a/+", "a/b", true},
		{"a/+", "a/+", true},
		{"a/+", "a/#", false},
		{"a/b", "a/+", false},
		{"a/b", "a/b", true},
		{"#", "x/#", true},
		{"#", "$SYS/#", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
	}
	for _, c := range cases {
		if got := filterCovers(c.rule, c.sub); got != c.want {
			t.Errorf("filterCovers(%q, %q) = %v, want %v", c.rule, c.sub, got, c.want)
		}
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"*c", "abc", true},
		{"a*c", "abbbc", true}, {"a*c", "abbb", false}, {"abc", "abc", true}, {"abc", "abd", false},
		{"s-*-x", "s-1-2-x", true}, {"", "", true}, {"", "a", false},
	}
	for _, c := range cases {
		if got := glob(c.p, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

func TestAgentTopic(t *testing.T) {
	class, name, dir, ok := agentTopic("agents", "agents/twin/dev/7/in")
	if !ok || class != "twin" || name != "dev/7" || dir != "in" {
		t.Fatalf("got %q %q %q %v", class, name, dir, ok)
	}
	for _, bad := range []string{"agents/twin/in", "other/twin/x/in", "agents/twin/x/up", "agents//x/in"} {
		if _, _, _, ok := agentTopic("agents", bad); ok {
			t.Errorf("agentTopic(%q) matched", bad)
		}
	}
}

func mustStore(t *testing.T, f *File) *Store {
	t.Helper()
	s, err := NewStore(f, "agents")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticate(t *testing.T) {
	f := &File{}
	if err := f.SetPassword("alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	tok, err := f.AddToken("alice", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "opt_") || strings.Contains(f.Users[0].Tokens[0].Hash, tok) {
		t.Fatalf("token %q stored as %q", tok, f.Users[0].Tokens[0].Hash)
	}
	s := mustStore(t, f)

	for i := 0; i < 2; i++ { // the second time through the verification cache
		if id, err := s.Authenticate("alice", "wonderland"); err != nil || id.User != "alice" {
			t.Fatalf("password: %v %v", id, err)
		}
	}
	if _, err := s.Authenticate("alice", "wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Authenticate("bob", "wonderland"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := s.Authenticate("alice", ""); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("empty password: %v", err)
	}
	if id, err := s.Authenticate("alice", tok); err != nil || id.User != "alice" {
		t.Fatalf("token as password: %v %v", id, err)
	}
	if id, err := s.Authenticate("", tok); err != nil || id.User != "alice" {
		t.Fatalf("bare token: %v %v", id, err)
	}
	if id, err := s.AuthenticateToken(tok); err != nil || id.User != "alice" {
		t.Fatalf("bearer: %v %v", id, err)
	}
	if _, err := s.AuthenticateToken(tok + "x"); err == nil {
		t.Fatal("bad token accepted")
	}
}

func TestArgon2idHash(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pw"), salt, 1, 8*1024, 1, 32)
	hash := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", 8*1024, 1, 1,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	s := mustStore(t, &File{Users: []User{{Name: "u", Password: hash}}})
	if _, err := s.Authenticate("u", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("u", "px"); err == nil {
		t.Fatal("wrong argon2id password accepted")
	}
}

func TestNewStoreRejects(t *testing.T) {
	cases := map[string]*File{
		"plaintext":  {Users: []User{{Name: "u", Password: "secret"}}},
		"duplicate":  {Users: []User{{Name: "u"}, {Name: "u"}}},
		"bad name":   {Users: []User{{Name: "a/b"}}},
		"both kinds": {Users: []User{{Name: "u", ACL: []Rule{{Topic: "a", Agent: "b/c"}}}}},
		"bad filter": {Users: []User{{Name: "u", ACL: []Rule{{Topic: "a/#/b"}}}}},
		"bad access": {Users: []User{{Name: "u", ACL: []Rule{{Topic: "a", Access: "all"}}}}},
		"bad agent":  {Users: []User{{Name: "u", ACL: []Rule{{Agent: "twin"}}}}},
		"bad token":  {Users: []User{{Name: "u", Tokens: []Token{{Hash: "md5:00"}}}}},
	}
	for name, f := range cases {
		if _, err := NewStore(f, "agents"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestACL(t *testing.T) {
	s := mustStore(t, &File{
		Users: []User{
			{Name: "sensor-7", ACL: []Rule{
				{Agent: "twin/%u"},
				{Topic: "sensors/%c/#", Access: AccessWrite},
				{Topic: "public/secret", Access: AccessDeny},
				{Topic: "public/#", Access: AccessRead},
			}},
			{Name: "free"},
			{Name: "root", Admin: true, ACL: []Rule{{Topic: "x"}}},
		},
		Anonymous: &Anonymous{ACL: []Rule{{Topic: "public/#", Access: AccessRead}}},
	})
	dev := Identity{User: "sensor-7"}
	anon := Identity{Anonymous: true}
	checks := []struct {
		name string
		got  bool
		want bool
	}{
		{"publish own twin in", s.CanPublish(dev, "c1", "agents/twin/sensor-7/in"), true},
		{"publish other twin in", s.CanPublish(dev, "c1", "agents/twin/sensor-8/in"), false},
		{"publish own twin out", s.CanPublish(dev, "c1", "agents/twin/sensor-7/out"), false},
		{"subscribe own twin out", s.CanSubscribe(dev, "c1", "agents/twin/sensor-7/out"), true},
		{"subscribe twin wildcard", s.CanSubscribe(dev, "c1", "agents/twin/+/out"), false},
		{"read own twin out", s.CanRead(dev, "c1", "agents/twin/sensor-7/out"), true},
		{"publish client topic", s.CanPublish(dev, "c1", "sensors/c1/temp"), true},
		{"publish other client topic", s.CanPublish(dev, "c1", "sensors/c2/temp"), false},
		{"subscribe write-only", s.CanSubscribe(dev, "c1", "sensors/c1/#"), false},
		{"subscribe public", s.CanSubscribe(dev, "c1", "public/#"), true},
		{"shared subscription", s.CanSubscribe(dev, "c1", "$share/g/public/#"), true},
		{"shared subscription outside", s.CanSubscribe(dev, "c1", "$share/g/private/#"), false},
		{"malformed shared subscription", s.CanSubscribe(dev, "c1", "$share/g"), false},
		{"read public", s.CanRead(dev, "c1", "public/news"), true},
		{"read denied before allowed", s.CanRead(dev, "c1", "public/secret"), false},
		{"publish public", s.CanPublish(dev, "c1", "public/news"), false},
		{"reach own agent", s.CanReachAgent(dev, "c1", "twin", "sensor-7"), true},
		{"reach other agent", s.CanReachAgent(dev, "c1", "twin", "sensor-8"), false},
		{"unsafe client id", s.CanPublish(dev, "c1/#", "sensors/c1/#"), false},
		{"no rules means all", s.CanPublish(Identity{User: "free"}, "c", "any/thing"), true},
		{"admin means all", s.CanPublish(Identity{User: "root"}, "c", "any/thing"), true},
		{"removed user", s.CanPublish(Identity{User: "ghost"}, "c", "any/thing"), false},
		{"anonymous read", s.CanRead(anon, "c", "public/x"), true},
		{"anonymous write", s.CanPublish(anon, "c", "public/x"), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFileSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "creds.yaml")
	f, err := ReadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := f.SetPassword("zed", "pw1"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPassword("amy", "pw2"); err != nil {
		t.Fatal(err)
	}
	f.User("amy").ACL = []Rule{{Agent: "twin/%u"}}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", st.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "pw1") {
		t.Fatal("plaintext password in file")
	}
	s, err := Load(path, "agents")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("zed", "pw1"); err != nil {
		t.Fatal(err)
	}
	if !s.CanPublish(Identity{User: "amy"}, "c", "agents/twin/amy/in") {
		t.Fatal("rule lost in save/load")
	}
	if !f.Remove("zed") || f.Remove("zed") {
		t.Fatal("remove")
	}
}

// FuzzLoad feeds arbitrary bytes to the credentials decoder: it must never
// panic, and whatever it accepts must answer access checks without panicking.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("users:\n  - name: a\n    acl:\n      - agent: twin/%u\n      - topic: s/%c/#\n        access: write\n"))
	f.Add([]byte("anonymous:\n  acl:\n    - topic: '#'\n      access: read\n"))
	f.Add([]byte("users: [{name: x, password: '$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA'}]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path, "agents")
		if err != nil {
			return
		}
		for _, u := range []string{"a", "x", ""} {
			id := Identity{User: u, Anonymous: u == ""}
			s.CanPublish(id, "c", "agents/twin/a/in")
			s.CanSubscribe(id, "c", "s/c/#")
			s.CanRead(id, "c", "s/c/x")
			s.CanReachAgent(id, "c", "twin", "a")
		}
	})
}
