// Package testutil holds helpers shared by tests that drive external
// programs (Mosquitto's clients, Node.js).
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of an external program a test needs. A missing
// program skips the test on a developer's machine but fails it under
// CI=true, where `make test` must have installed it.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not installed")
	}
	return p
}

// Missing skips (developer machine) or fails (CI=true) a test whose
// dependency is absent.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; `make test` installs it", what)
	}
	t.Skipf("%s; run `make test-deps`", what)
}
