package main

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// TestEveryOptionSettable: each config leaf has help text and a type that
// flags and environment variables can set.
func TestEveryOptionSettable(t *testing.T) {
	cfg := defaultConfig()
	opts := options(&cfg)
	seen := map[string]bool{}
	for _, o := range opts {
		if o.help == "" {
			t.Errorf("%s has no help tag", o.key)
		}
		if seen[o.key] {
			t.Errorf("%s appears twice", o.key)
		}
		seen[o.key] = true
		before := reflect.ValueOf(o.v.Interface())
		if err := o.set(display(before)); err != nil && o.v.Kind() != reflect.String {
			t.Errorf("%s: setting its own default %q: %v", o.key, display(before), err)
		}
	}
	for _, k := range []string{"data_dir", "listen", "mqtt_port", "http_port", "credentials", "allow_anonymous", "model", "log_format"} {
		if !seen[k] {
			t.Errorf("DESIGN.md option %s missing", k)
		}
	}
}

func TestWriteConfigRoundTrips(t *testing.T) {
	cfg := defaultConfig()
	cfg.AllowedOrigins = []string{"https://a.example", "https://b.example"}
	cfg.MQTTPort = 1999
	var buf bytes.Buffer
	if err := writeConfig(&buf, &cfg); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/c.yaml"
	if err := writeFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	back := defaultConfig()
	if err := readConfigFile(path, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, back) {
		t.Fatalf("round trip:\n%+v\n%+v", cfg, back)
	}
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
