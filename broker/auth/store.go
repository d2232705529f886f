package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Identity is who a client authenticated as.
type Identity struct {
	User      string // empty for anonymous clients
	Admin     bool
	Anonymous bool
}

// Store is an immutable, loaded credentials file. It is safe for concurrent
// use; its only mutable part is the verification cache.
type Store struct {
	users     map[string]*account
	tokens    map[string]string // token digest -> user name
	anonymous []Rule
	prefix    string // agent topic prefix, e.g. "agents"
	verify    verifier
	verified  sync.Map // user name -> [32]byte digest of the last good password
}

type account struct {
	name     string
	hash     string
	admin    bool
	rules    []Rule
	noRules  bool
	tokenSet map[string]bool // digests of this user's tokens
}

// ErrBadCredentials is returned for an unknown user or a wrong secret; it
// says no more, so it does not reveal which users exist.
var ErrBadCredentials = errors.New("not authorized: bad username, password or token")

// Load reads and validates a credentials file. prefix is the MQTT topic
// prefix of agents (DESIGN.md: "agents"), used by agent rules.
func Load(path, prefix string) (*Store, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	s, err := NewStore(f, prefix)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return s, nil
}

// NewStore validates f and builds a Store from it.
func NewStore(f *File, prefix string) (*Store, error) {
	s := &Store{
		users:  make(map[string]*account, len(f.Users)),
		tokens: make(map[string]string),
		prefix: prefix,
		verify: newVerifier(),
	}
	for _, u := range f.Users {
		if err := validUsername(u.Name); err != nil {
			return nil, err
		}
		if _, dup := s.users[u.Name]; dup {
			return nil, fmt.Errorf("user %q appears twice", u.Name)
		}
		if u.Password != "" {
			if err := validHash(u.Password); err != nil {
				return nil, fmt.Errorf("user %q: password: %w", u.Name, err)
			}
		}
		for i, r := range u.ACL {
			if err := r.validate(); err != nil {
				return nil, fmt.Errorf("user %q: acl[%d]: %w", u.Name, i, err)
			}
		}
		a := &account{name: u.Name, hash: u.Password, admin: u.Admin, rules: u.ACL, noRules: len(u.ACL) == 0, tokenSet: map[string]bool{}}
		for _, t := range u.Tokens {
			if !strings.HasPrefix(t.Hash, "sha256:") || len(t.Hash) != len("sha256:")+64 {
				return nil, fmt.Errorf("user %q: token %q: hash must be sha256:<64 hex digits>", u.Name, t.Name)
			}
			if other, dup := s.tokens[t.Hash]; dup {
				return nil, fmt.Errorf("user %q: token also belongs to %q", u.Name, other)
			}
			s.tokens[t.Hash] = u.Name
			a.tokenSet[t.Hash] = true
		}
		s.users[u.Name] = a
	}
	if f.Anonymous != nil {
		for i, r := range f.Anonymous.ACL {
			if err := r.validate(); err != nil {
				return nil, fmt.Errorf("anonymous: acl[%d]: %w", i, err)
			}
		}
		s.anonymous = f.Anonymous.ACL
	}
	return s, nil
}

// Len returns the number of users.
func (s *Store) Len() int { return len(s.users) }

// Authenticate checks a username and a secret, which may be the user's
// password or one of the user's API tokens. With an empty username, the
// secret must be a token and names the user.
func (s *Store) Authenticate(user, secret string) (Identity, error) {
	if secret == "" {
		return Identity{}, ErrBadCredentials
	}
	if user == "" {
		return s.AuthenticateToken(secret)
	}
	a, ok := s.users[user]
	if !ok {
		// Spend the same time as a real check so response times do not
		// reveal which users exist.
		checkHash(dummyHash(), secret)
		return Identity{}, ErrBadCredentials
	}
	if strings.HasPrefix(secret, tokenPrefix) && a.tokenSet[tokenDigest(secret)] {
		return Identity{User: a.name, Admin: a.admin}, nil
	}
	if a.hash == "" {
		return Identity{}, ErrBadCredentials
	}
	d := s.verify.digest(a.name, a.hash, secret)
	if v, ok := s.verified.Load(a.name); ok {
		cached := v.([32]byte)
		if subtle.ConstantTimeCompare(cached[:], d[:]) == 1 {
			return Identity{User: a.name, Admin: a.admin}, nil
		}
	}
	if !checkHash(a.hash, secret) {
		return Identity{}, ErrBadCredentials
	}
	s.verified.Store(a.name, d)
	return Identity{User: a.name, Admin: a.admin}, nil
}

// AuthenticateToken checks a bearer token.
func (s *Store) AuthenticateToken(token string) (Identity, error) {
	name, ok := s.tokens[tokenDigest(token)]
	if !ok {
		return Identity{}, ErrBadCredentials
	}
	a := s.users[name]
	return Identity{User: a.name, Admin: a.admin}, nil
}

// rules returns the rules for id and whether id may reach everything.
// An identity whose user no longer exists gets no rules and no access.
func (s *Store) rules(id Identity) (rules []Rule, all bool) {
	if id.Anonymous {
		return s.anonymous, len(s.anonymous) == 0
	}
	a, ok := s.users[id.User]
	if !ok {
		return nil, false
	}
	return a.rules, a.admin || a.noRules
}

// Known reports whether the identity still exists in this store (anonymous
// identities always do).
func (s *Store) Known(id Identity) bool {
	if id.Anonymous {
		return true
	}
	_, ok := s.users[id.User]
	return ok
}

// CanPublish reports whether id, connected as client, may publish to topic.
func (s *Store) CanPublish(id Identity, client, topic string) bool {
	return s.topicAccess(id, client, topic, true)
}

// CanRead reports whether a message on topic may be delivered to id.
func (s *Store) CanRead(id Identity, client, topic string) bool {
	return s.topicAccess(id, client, topic, false)
}

func (s *Store) topicAccess(id Identity, client, topic string, write bool) bool {
	rules, all := s.rules(id)
	if all {
		return true
	}
	want := "out"
	if write {
		want = "in"
	}
	return decide(rules, subject{id.User, client}, write, func(r Rule, pattern string) bool {
		if r.Topic != "" {
			return topicMatch(pattern, topic)
		}
		class, name, dir, ok := agentTopic(s.prefix, topic)
		return ok && dir == want && agentMatch(pattern, class, name)
	})
}

// CanSubscribe reports whether id may subscribe to filter. A granted
// subscription is still checked per message with CanRead. A shared
// subscription ($share/{group}/{filter}) is judged by its filter.
func (s *Store) CanSubscribe(id Identity, client, filter string) bool {
	rules, all := s.rules(id)
	if all {
		return true
	}
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, filter, ok = strings.Cut(rest, "/")
		if !ok {
			return false
		}
	}
	return decide(rules, subject{id.User, client}, false, func(r Rule, pattern string) bool {
		if r.Topic != "" {
			return filterCovers(pattern, filter)
		}
		if strings.ContainsAny(filter, "+#") {
			return false
		}
		class, name, dir, ok := agentTopic(s.prefix, filter)
		return ok && dir == "out" && agentMatch(pattern, class, name)
	})
}

// CanReachAgent reports whether id may open the agent's WebSocket or send it
// HTTP requests: it needs both read and write on the agent.
func (s *Store) CanReachAgent(id Identity, client, class, name string) bool {
	rules, all := s.rules(id)
	if all {
		return true
	}
	return decide(rules, subject{id.User, client}, true, func(r Rule, pattern string) bool {
		return r.Agent != "" && agentMatch(pattern, class, name)
	}) && decide(rules, subject{id.User, client}, false, func(r Rule, pattern string) bool {
		return r.Agent != "" && agentMatch(pattern, class, name)
	})
}

// dummyHash is a bcrypt hash of a random string, checked for unknown users.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("outpost-unknown-user")
	return h
})
