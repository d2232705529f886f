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

// FuzzReadConfig: whatever a config file holds, reading and validating it
// never panics, and an accepted file prints and reads back to the same
// configuration.
func FuzzReadConfig(f *testing.F) {
	f.Add([]byte("mqtt_port: 1884\nlisten: localhost\nallowed_origins: [https://a.example]\n"))
	f.Add([]byte("mqtt_max_frame: 1KiB\nsys_interval: 5s\npublish_rate: 2.5\n"))
	f.Add([]byte("listen: 0.0.0.0\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := t.TempDir() + "/c.yaml"
		if err := writeFile(path, data); err != nil {
			t.Fatal(err)
		}
		cfg := defaultConfig()
		if err := readConfigFile(path, &cfg); err != nil {
			return
		}
		if cfg.Validate() != nil {
			return
		}
		var buf bytes.Buffer
		if err := writeConfig(&buf, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(path, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		back := defaultConfig()
		if err := readConfigFile(path, &back); err != nil {
			t.Fatalf("printed config does not read back: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(cfg, back) {
			t.Fatalf("round trip changed the configuration:\n%+v\n%+v", cfg, back)
		}
	})
}
