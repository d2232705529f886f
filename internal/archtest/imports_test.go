package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/outpost-iot/outpost"

// stage returns the top-level folder a package belongs to ("broker" for
// broker/auth), or "" for packages outside the module.
func stage(pkg string) string {
	rest, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	if top == "internal" || top == "cmd" || top == "bench" {
		return rest
	}
	return top
}

var stages = map[string]bool{"broker": true, "protocol": true, "agenthost": true, "accel": true}

// allowed reports whether package from may import package to.
func allowed(from, to string) (bool, string) {
	fs, ts := stage(from), stage(to)
	if strings.HasPrefix(to, "github.com/mochi-mqtt/") {
		return fs == "broker", "mochi types stay inside broker"
	}
	if ts == "" || fs == ts {
		return true, ""
	}
	switch {
	case strings.HasPrefix(ts, "cmd/"):
		return false, "nothing imports a command"
	case fs == "codecs":
		return strings.HasPrefix(ts, "internal/"), "codecs is a leaf"
	case fs == "wire":
		return strings.HasPrefix(ts, "internal/") || ts == "codecs", "wire is a leaf"
	case fs == "accel" && (stages[ts] || ts == "codecs"):
		return false, "accel knows nothing about devices or agents"
	case stages[fs] && stages[ts]:
		return fs == "agenthost" && ts == "accel", "stages do not import one another (only agenthost -> accel)"
	case strings.HasPrefix(fs, "internal/") && (stages[ts] || ts == "codecs" || ts == "wire"):
		return false, "internal packages are leaves below the stages"
	}
	return true, ""
}

func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkgs++
		for _, imp := range fields[1:] {
			if ok, why := allowed(fields[0], imp); !ok {
				t.Errorf("%s imports %s: %s", fields[0], imp, why)
			}
		}
	}
	if pkgs < 5 {
		t.Fatalf("go list found only %d packages", pkgs)
	}
}

func TestRules(t *testing.T) {
	m := module + "/"
	cases := []struct {
		from, to string
		want     bool
	}{
		{m + "agenthost", m + "accel", true},
		{m + "accel", m + "agenthost", false},
		{m + "broker", m + "protocol", false},
		{m + "protocol", m + "broker/auth", false},
		{m + "protocol", m + "codecs", true},
		{m + "codecs", m + "protocol", false},
		{m + "cmd/outpost", m + "broker", true},
		{m + "broker", m + "cmd/outpost", false},
		{m + "broker", "github.com/mochi-mqtt/server/v2", true},
		{m + "protocol", "github.com/mochi-mqtt/server/v2/packets", false},
		{m + "broker/auth", m + "broker", true},
		{m + "broker", m + "internal/units", true},
		{m + "internal/units", m + "broker", false},
		{m + "broker", m + "wire", true},
		{m + "protocol", m + "wire", true},
		{m + "agenthost", m + "wire", true},
		{m + "wire", m + "codecs", true},
		{m + "wire", m + "protocol", false},
		{m + "wire", m + "accel", false},
	}
	for _, c := range cases {
		if got, _ := allowed(c.from, c.to); got != c.want {
			t.Errorf("allowed(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
