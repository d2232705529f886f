package detect

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jaypipes/ghw"
	"golang.org/x/sys/unix"
)

// captureStderr runs f with file descriptor 2 pointing into a pipe and
// returns what was written there. ghw's default logger holds os.Stderr from
// package initialisation, so only a descriptor-level redirect sees it.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	if err := unix.Dup3(saved, 2, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(saved)
	w.Close()
	out := <-done
	r.Close()
	return out
}

func TestDetectNeverWritesStderr(t *testing.T) {
	root := t.TempDir()
	missing := map[string]string{"/sys": filepath.Join(root, "sys"), "/proc": filepath.Join(root, "proc")}

	// Control: ghw left to its defaults complains on stderr about the
	// missing trees, so the capture works and the test below means something.
	control := captureStderr(t, func() { _, _ = ghw.CPU(ghw.WithPathOverrides(missing)) })
	if control == "" {
		t.Fatal("control: ghw wrote nothing to stderr; the capture does not work")
	}

	for name, opts := range map[string]Options{
		"missing trees": {SysRoot: missing["/sys"], ProcRoot: missing["/proc"], NVMLLibrary: filepath.Join(root, "nvml.so")},
		"fake machine":  fakeMachine(t),
		"this machine":  {},
	} {
		if got := captureStderr(t, func() { Detect(context.Background(), opts) }); got != "" {
			t.Errorf("%s: Detect wrote to stderr:\n%s", name, got)
		}
	}
}
