package main

import (
	"bytes"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/agenthost/chat"
	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/internal/units"
)

// Config is everything `outpost serve` reads. Each leaf field is a config
// file key (its yaml tag), a flag (the key with '-' for '_') and an
// environment variable (OUTPOST_ and the key in upper case). Precedence:
// flag, then environment, then config file, then the default.
type Config struct {
	DataDir   string `yaml:"data_dir" help:"data directory (agent databases, broker sessions); created on demand"`
	LogFormat string `yaml:"log_format" help:"log format: text or json"`
	LogLevel  string `yaml:"log_level" help:"log level: debug, info, warn or error"`
	Model     string `yaml:"model" help:"GGUF model file for the local inference engine; its API model id is the file name without .gguf"`
	// InferenceURL points /v1 at another OpenAI-compatible server instead
	// of a local model.
	InferenceURL        string `yaml:"inference_url" help:"base URL with /v1 of an OpenAI-compatible server (llama.cpp, vLLM, Ollama) that serves /v1 instead of a local --model"`
	InferenceAPIKeyFile string `yaml:"inference_api_key_file" help:"file holding the bearer token sent to inference_url"`

	// Agents (docs/protocol.md §10).
	AgentMailbox     int            `yaml:"agent_mailbox" help:"frames queued for one agent before senders get agent_busy"`
	AgentIdleTimeout time.Duration  `yaml:"agent_idle_timeout" help:"an agent without events for this long hibernates (memory and database handle released)"`
	AgentDBMax       units.ByteSize `yaml:"agent_db_max" help:"size cap of one agent's SQLite database"`
	AgentsPerClass   int            `yaml:"agents_per_class_max" help:"most agents of one class that may exist"`
	AgentsDiskMax    units.ByteSize `yaml:"agents_disk_max" help:"most disk all agent databases may use together before new agents are refused"`
	AgentsAwakeMax   int            `yaml:"agents_awake_max" help:"most agents awake at once (3 open files each); beyond it the least recently active hibernate early; 0: from the open-file limit"`

	// The built-in chat agent (docs/chat.md).
	ChatSystemPrompt string `yaml:"chat_system_prompt" help:"system prompt the built-in chat agent sends before each conversation; empty sends none"`
	ChatMaxTokens    int    `yaml:"chat_max_tokens" help:"longest reply of the built-in chat agent, in tokens, unless a request asks for another"`
	ChatMaxMessages  int    `yaml:"chat_max_messages" help:"messages one chat keeps (the oldest beyond it are deleted); 0 keeps all"`

	broker.Config `yaml:",inline"`
}

func defaultConfig() Config {
	return Config{
		DataDir: "./outpost-data", LogFormat: "text", LogLevel: "info",
		AgentMailbox:     agenthost.DefaultMailboxSize,
		AgentIdleTimeout: agenthost.DefaultIdleTimeout,
		AgentDBMax:       agenthost.DefaultMaxDBBytes,
		AgentsPerClass:   agenthost.DefaultMaxAgentsPerClass,
		AgentsDiskMax:    agenthost.DefaultMaxDiskBytes,
		ChatMaxTokens:    chat.DefaultMaxTokens,
		Config:           broker.DefaultConfig(),
	}
}

// agentsConfig is the agent host's part of the configuration.
func (c *Config) agentsConfig() agenthost.Config {
	return agenthost.Config{
		DataDir: c.DataDir, MailboxSize: c.AgentMailbox, IdleTimeout: c.AgentIdleTimeout,
		MaxDBBytes: int64(c.AgentDBMax), MaxAgentsPerClass: c.AgentsPerClass, MaxDiskBytes: int64(c.AgentsDiskMax),
		MaxAwake: c.AgentsAwakeMax,
	}
}

// chatConfig is the built-in chat class's part of the configuration.
func (c *Config) chatConfig() chat.Config {
	return chat.Config{SystemPrompt: c.ChatSystemPrompt, MaxTokens: c.ChatMaxTokens,
		MaxPersistedMessages: c.ChatMaxMessages, Tools: chatTools}
}

// Validate checks the fields this package owns, then the broker's.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return &broker.FieldError{Field: "data_dir", Problem: "must not be empty"}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return &broker.FieldError{Field: "log_format", Problem: fmt.Sprintf("%q: want text or json", c.LogFormat)}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &broker.FieldError{Field: "log_level", Problem: fmt.Sprintf("%q: want debug, info, warn or error", c.LogLevel)}
	}
	switch {
	case c.AgentMailbox < 1:
		return &broker.FieldError{Field: "agent_mailbox", Problem: fmt.Sprintf("%d: want at least 1", c.AgentMailbox)}
	case c.AgentIdleTimeout < 100*time.Millisecond:
		return &broker.FieldError{Field: "agent_idle_timeout", Problem: fmt.Sprintf("%s: want at least 100ms", c.AgentIdleTimeout)}
	case c.AgentDBMax < 64*units.KiB:
		return &broker.FieldError{Field: "agent_db_max", Problem: fmt.Sprintf("%s: want at least 64KiB", c.AgentDBMax)}
	case c.AgentsPerClass < 1:
		return &broker.FieldError{Field: "agents_per_class_max", Problem: fmt.Sprintf("%d: want at least 1", c.AgentsPerClass)}
	case c.AgentsAwakeMax < 0:
		return &broker.FieldError{Field: "agents_awake_max", Problem: fmt.Sprintf("%d: want 0 (automatic) or more", c.AgentsAwakeMax)}
	case c.AgentsDiskMax < c.AgentDBMax:
		return &broker.FieldError{Field: "agents_disk_max", Problem: fmt.Sprintf("%s: want at least agent_db_max (%s)", c.AgentsDiskMax, c.AgentDBMax)}
	case c.ChatMaxTokens < 1:
		return &broker.FieldError{Field: "chat_max_tokens", Problem: fmt.Sprintf("%d: want at least 1", c.ChatMaxTokens)}
	case c.ChatMaxMessages < 0:
		return &broker.FieldError{Field: "chat_max_messages", Problem: fmt.Sprintf("%d: want 0 (keep all) or more", c.ChatMaxMessages)}
	}
	if c.Model != "" && c.InferenceURL != "" {
		return &broker.FieldError{Field: "inference_url", Problem: "cannot be combined with model: serve a local model or a remote server"}
	}
	return c.Config.Validate()
}

// option is one configuration leaf found by reflection.
type option struct {
	key  string // config file key
	help string
	v    reflect.Value
}

func (o option) flag() string { return strings.ReplaceAll(o.key, "_", "-") }
func (o option) env() string  { return "OUTPOST_" + strings.ToUpper(o.key) }

// options lists the leaves of cfg in declaration order.
func options(cfg *Config) []option {
	var out []option
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || !f.IsExported() {
				continue
			}
			if strings.Contains(tag, ",inline") {
				walk(v.Field(i))
				continue
			}
			key, _, _ := strings.Cut(tag, ",")
			out = append(out, option{key: key, help: f.Tag.Get("help"), v: v.Field(i)})
		}
	}
	walk(reflect.ValueOf(cfg).Elem())
	return out
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// set parses s into the option's field.
func (o option) set(s string) error {
	if o.v.CanAddr() && o.v.Addr().Type().Implements(textUnmarshaler) {
		return o.v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch p := o.v.Addr().Interface().(type) {
	case *string:
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		*p = n
	case *float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 10s, 5m)", s)
		}
		*p = d
	case *[]string:
		*p = nil
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*p = append(*p, part)
			}
		}
	default:
		return fmt.Errorf("unsupported option type %s", o.v.Type())
	}
	return nil
}

// rawFlag records what was given on the command line; it is applied after
// the config file and the environment, so flags win.
type rawFlag struct {
	isBool bool
	val    *string
}

func (f rawFlag) String() string {
	if f.val == nil {
		return ""
	}
	return *f.val
}
func (f rawFlag) Set(s string) error { *f.val = s; return nil }
func (f rawFlag) IsBoolFlag() bool   { return f.isBool }

// configFlags registers every option on fs and returns a function that
// builds the effective configuration after fs.Parse.
func configFlags(fs *flag.FlagSet) func() (Config, error) {
	probe := defaultConfig()
	raw := map[string]*string{}
	var configPath string
	fs.StringVar(&configPath, "config", "", "YAML config file (env OUTPOST_CONFIG); flags and environment override it")
	for _, o := range options(&probe) {
		v := new(string)
		raw[o.key] = v
		isBool := o.v.Kind() == reflect.Bool
		fs.Var(rawFlag{isBool: isBool, val: v}, o.flag(), fmt.Sprintf("%s (env %s, default %s)", o.help, o.env(), display(o.v)))
	}
	return func() (Config, error) {
		cfg := defaultConfig()
		if configPath == "" {
			configPath = os.Getenv("OUTPOST_CONFIG")
		}
		if configPath != "" {
			if err := readConfigFile(configPath, &cfg); err != nil {
				return cfg, err
			}
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, o := range options(&cfg) {
			if s, ok := os.LookupEnv(o.env()); ok {
				if err := o.set(s); err != nil {
					return cfg, fmt.Errorf("invalid configuration: %s (from %s): %w", o.key, o.env(), err)
				}
			}
			if set[o.flag()] {
				if err := o.set(*raw[o.key]); err != nil {
					return cfg, fmt.Errorf("invalid configuration: %s (from --%s): %w", o.key, o.flag(), err)
				}
			}
		}
		if err := cfg.Validate(); err != nil {
			var fe *broker.FieldError
			if errors.As(err, &fe) {
				return cfg, fmt.Errorf("invalid configuration: %s (--%s, OUTPOST_%s): %s",
					fe.Field, strings.ReplaceAll(fe.Field, "_", "-"), strings.ToUpper(fe.Field), fe.Problem)
			}
			return cfg, fmt.Errorf("invalid configuration: %w", err)
		}
		return cfg, nil
	}
}

func readConfigFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("invalid configuration in %s: %w", path, err)
	}
	if len(cfg.AllowedOrigins) == 0 {
		cfg.AllowedOrigins = nil // "allowed_origins: []" means the default
	}
	return nil
}

// display formats a value as the config file would hold it.
func display(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, _ := m.MarshalText()
		return string(b)
	}
	switch x := v.Interface().(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case time.Duration:
		return x.String()
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}

// writeConfig prints cfg as a commented YAML config file.
func writeConfig(w io.Writer, cfg *Config) error {
	def := defaultConfig()
	defs := map[string]string{}
	for _, o := range options(&def) {
		defs[o.key] = display(o.v)
	}
	var buf bytes.Buffer
	buf.WriteString("# Outpost effective configuration. Save it and pass it with --config FILE.\n")
	for _, o := range options(cfg) {
		val, err := yaml.Marshal(map[string]any{o.key: yamlValue(o.v)})
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, "\n# %s\n# flag --%s, env %s, default %s\n%s", o.help, o.flag(), o.env(), defs[o.key], val)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func yamlValue(v reflect.Value) any {
	switch x := v.Interface().(type) {
	case encoding.TextMarshaler:
		b, _ := x.MarshalText()
		return string(b)
	case time.Duration:
		return x.String()
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v.Interface()
}
