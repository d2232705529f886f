package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// bcryptCost is the work factor of new password hashes: about 50 ms per
// check on a gateway core, which the verification cache pays once per user.
const bcryptCost = 10

// tokenPrefix marks Outpost API tokens so they are recognisable in logs and
// secret scanners.
const tokenPrefix = "opt_"

// HashPassword returns a bcrypt hash of password.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", errors.New("password longer than 72 bytes (the bcrypt limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// checkHash reports whether password matches a stored bcrypt or argon2id hash.
func checkHash(hash, password string) bool {
	switch {
	case strings.HasPrefix(hash, "$2"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, password)
	}
	return false
}

// validHash reports whether hash is in a format checkHash understands.
func validHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$2"):
		_, err := bcrypt.Cost([]byte(hash))
		return err
	case strings.HasPrefix(hash, "$argon2id$"):
		_, _, _, _, _, err := parseArgon2id(hash)
		return err
	}
	return errors.New("not a bcrypt or argon2id hash (plaintext passwords are not accepted)")
}

// checkArgon2id verifies the PHC string form
// $argon2id$v=19$m=65536,t=3,p=4$<salt b64>$<hash b64>.
func checkArgon2id(hash, password string) bool {
	m, t, p, salt, want, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func parseArgon2id(hash string) (m, t uint32, p uint8, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return 0, 0, 0, nil, nil, errors.New("malformed argon2id hash")
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return 0, 0, 0, nil, nil, errors.New("malformed argon2id parameters")
		}
		switch k {
		case "m":
			m = uint32(n)
		case "t":
			t = uint32(n)
		case "p":
			if n > 255 {
				return 0, 0, 0, nil, nil, errors.New("argon2id parallelism too large")
			}
			p = uint8(n)
		}
	}
	if m == 0 || t == 0 || p == 0 || m > 4<<20 {
		return 0, 0, 0, nil, nil, errors.New("argon2id parameters out of range")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return 0, 0, 0, nil, nil, errors.New("malformed argon2id salt")
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return 0, 0, 0, nil, nil, errors.New("malformed argon2id key")
	}
	return m, t, p, salt, key, nil
}

// newToken returns a fresh random API token.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenDigest is the stored form of a token. Tokens carry 256 random bits,
// so a fast hash is enough and keeps bearer checks cheap on every request.
func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// verifier remembers, per user, a keyed digest of the last password that
// passed a slow hash check, so a reconnect storm of devices costs one bcrypt
// per user instead of one per connection. The key is random per process, so
// the cached digests are useless outside it.
type verifier struct {
	key []byte
}

func newVerifier() verifier {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return verifier{key: key}
}

func (v verifier) digest(user, hash, password string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, v.key)
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(hash))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var out [sha256.Size]byte
	copy(out[:], mac.Sum(nil))
	return out
}
