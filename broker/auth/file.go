package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// File is the on-disk form of the credentials file (YAML). It never holds a
// plaintext secret: passwords are bcrypt or argon2id hashes and tokens are
// SHA-256 digests.
//
//	users:
//	  - name: sensor-7
//	    password: $2a$10$...
//	    acl:
//	      - agent: twin/%u        # the agent twin/sensor-7, over MQTT and WebSocket
//	      - topic: sensors/%c/#   # plain MQTT topics, with the client id substituted
//	        access: write
//	  - name: ops
//	    password: $2a$10$...
//	    admin: true
//	    tokens:
//	      - name: grafana
//	        hash: sha256:9f86d0...
//	anonymous:                   # rules for anonymous clients when --allow-anonymous is set
//	  acl:
//	    - topic: public/#
//	      access: read
type File struct {
	Users     []User     `yaml:"users"`
	Anonymous *Anonymous `yaml:"anonymous,omitempty"`
}

// User is one account.
type User struct {
	Name     string  `yaml:"name"`
	Password string  `yaml:"password,omitempty"` // bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash
	Admin    bool    `yaml:"admin,omitempty"`    // may use /admin/... and reach everything
	Tokens   []Token `yaml:"tokens,omitempty"`
	// ACL lists what the user may reach, first matching rule wins. A user
	// with no rules may reach everything, as in Mosquitto without an
	// acl_file; give devices rules to confine them.
	ACL []Rule `yaml:"acl,omitempty"`
}

// Token is an API token, stored as the SHA-256 digest of its secret.
type Token struct {
	Name    string    `yaml:"name,omitempty"`
	Hash    string    `yaml:"hash"` // "sha256:" + hex digest of the whole token string
	Created time.Time `yaml:"created,omitempty"`
}

// Anonymous holds the rules for clients that connect without credentials
// while anonymous access is allowed.
type Anonymous struct {
	ACL []Rule `yaml:"acl,omitempty"`
}

// ReadFile parses a credentials file. A missing file is an empty File and an
// error matching fs.ErrNotExist, so `outpost passwd add` can create one.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return &File{}, err
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse credentials file %s: %w", path, err)
	}
	return &f, nil
}

// Save writes the file atomically (temporary file, fsync, rename) with mode
// 0600, so a reader never sees half a file.
func (f *File) Save(path string) error {
	sort.SliceStable(f.Users, func(i, j int) bool { return f.Users[i].Name < f.Users[j].Name })
	var buf bytes.Buffer
	buf.WriteString("# Outpost credentials. Edit with `outpost passwd`; reloaded on SIGHUP.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create credentials dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}

// User returns the named user, or nil.
func (f *File) User(name string) *User {
	for i := range f.Users {
		if f.Users[i].Name == name {
			return &f.Users[i]
		}
	}
	return nil
}

// SetPassword creates the user if needed and sets a new bcrypt hash of
// password. Other fields of an existing user are kept.
func (f *File) SetPassword(name, password string) error {
	if err := validUsername(name); err != nil {
		return err
	}
	if password == "" {
		return errors.New("password must not be empty")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	if u := f.User(name); u != nil {
		u.Password = hash
		return nil
	}
	f.Users = append(f.Users, User{Name: name, Password: hash})
	return nil
}

// Remove deletes the user; it reports whether the user existed.
func (f *File) Remove(name string) bool {
	for i := range f.Users {
		if f.Users[i].Name == name {
			f.Users = append(f.Users[:i], f.Users[i+1:]...)
			return true
		}
	}
	return false
}

// AddToken creates a new API token for an existing user and returns its
// secret, which is shown once and stored only as a digest.
func (f *File) AddToken(user, name string) (string, error) {
	u := f.User(user)
	if u == nil {
		return "", fmt.Errorf("no user %q: add it first with `outpost passwd add %s`", user, user)
	}
	secret, err := newToken()
	if err != nil {
		return "", err
	}
	u.Tokens = append(u.Tokens, Token{Name: name, Hash: tokenDigest(secret), Created: time.Now().UTC().Truncate(time.Second)})
	return secret, nil
}

func validUsername(name string) error {
	if name == "" {
		return errors.New("user name must not be empty")
	}
	for _, r := range name {
		if r == '/' || r == '+' || r == '#' || r == ':' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("user name %q: must not contain '/', '+', '#', ':' or control characters", name)
		}
	}
	return nil
}
