package broker

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/outpost-iot/outpost/internal/units"
)

// Config is the network edge's configuration. Every field is also a flag
// (--yaml-key with '_' as '-'), an OUTPOST_ environment variable and a
// config-file key; the help tag is what `outpost help serve` and
// `outpost config` print.
type Config struct {
	// Listen is the bind address of every listener. Default 127.0.0.1.
	Listen string `yaml:"listen" help:"bind address of every listener (MQTT, HTTP); anything but loopback needs credentials or allow_anonymous"`
	// MQTTPort is the MQTT over TCP (or TLS) port; 0 picks a free port. Default 1883.
	MQTTPort int `yaml:"mqtt_port" help:"MQTT over TCP port (TLS when tls_cert is set); 0 picks a free port"`
	// HTTPPort is the one HTTP port; 0 picks a free port. Default 8080.
	HTTPPort int `yaml:"http_port" help:"HTTP port for /agents, /mqtt, /v1, /admin, /metrics, /healthz; 0 picks a free port"`
	// Credentials is the path of the credentials file; empty means none.
	Credentials string `yaml:"credentials" help:"credentials file (users, password hashes, API tokens, ACLs); edit with 'outpost passwd'"`
	// AllowAnonymous admits clients without credentials. Without a
	// credentials file on loopback everyone is admitted anyway.
	AllowAnonymous bool `yaml:"allow_anonymous" help:"admit clients that send no credentials (they get the file's anonymous rules)"`
	// TLSCert and TLSKey are PEM files; when set, the MQTT port speaks TLS
	// and the HTTP port HTTPS. Reloaded on SIGHUP.
	TLSCert string `yaml:"tls_cert" help:"PEM certificate file; turns on TLS for the MQTT and HTTP ports"`
	TLSKey  string `yaml:"tls_key" help:"PEM private key file for tls_cert"`
	// AllowedOrigins lists the browser origins (scheme://host[:port]) that
	// may open WebSockets; "*" allows any. Empty: same origin only. Requests
	// without an Origin header (devices, tools) are not browsers and pass.
	AllowedOrigins []string `yaml:"allowed_origins" help:"browser origins allowed to open WebSockets, comma-separated; '*' for any; empty means same origin only"`
	// TopicPrefix is the first level of agent topics. Default "agents".
	TopicPrefix string `yaml:"topic_prefix" help:"first topic level of agent topics (agents/{agent}/{name}/in|out)"`
	// MQTTMaxFrame is the largest frame (PUBLISH payload) an MQTT client may
	// send; the MQTT maximum packet size is this plus PacketOverhead.
	// Default 256KiB.
	MQTTMaxFrame units.ByteSize `yaml:"mqtt_max_frame" help:"largest MQTT frame (publish payload); the broker's maximum packet size is this plus 16KiB for topic and properties"`
	// WSMaxFrame is the largest agent WebSocket frame. Default 4MiB.
	WSMaxFrame units.ByteSize `yaml:"ws_max_frame" help:"largest agent WebSocket frame"`
	// MaxClients caps concurrent MQTT connections; 0 means no cap. Default 10000.
	MaxClients int `yaml:"max_clients" help:"maximum concurrent MQTT connections (0: no limit)"`
	// MaxInflight caps the QoS 1 and 2 messages kept per client awaiting
	// acknowledgement (also while it is offline); memory is used only as
	// the backlog grows. Default 8192, as in mochi.
	MaxInflight int `yaml:"max_inflight" help:"maximum QoS 1/2 messages stored per client awaiting acknowledgement, 1-65535"`
	// MaxQueued caps the messages waiting to be written to one client's
	// socket; beyond it messages to that client are dropped and counted.
	// Default 1024.
	MaxQueued int `yaml:"max_queued" help:"maximum messages queued for writing to one client before further ones are dropped"`
	// ReceiveMaximum is how many QoS 1 and 2 publishes a client may have
	// unacknowledged towards the broker (MQTT 5 Receive Maximum). Default 1024.
	ReceiveMaximum int `yaml:"receive_maximum" help:"QoS 1/2 publishes a client may have unacknowledged towards the broker, 1-65535"`
	// PublishRate limits each client's publishes per second; 0 means no
	// limit. A client over the limit is slowed down (its socket is read
	// later), never dropped. Default 0.
	PublishRate float64 `yaml:"publish_rate" help:"per-client publish limit in messages/second (0: none); excess is delayed, not dropped"`
	// PublishBurst is how many publishes a client may send at once above
	// PublishRate. Default 0, meaning the rate rounded up (at least 1).
	PublishBurst int `yaml:"publish_burst" help:"publishes a client may burst above publish_rate (0: the rate, at least 1)"`
	// MessageExpiryMax caps how long undelivered messages (retained,
	// queued for offline clients) are kept; 0 keeps them until the
	// publisher's own MQTT 5 expiry, or forever. Default 0.
	MessageExpiryMax time.Duration `yaml:"message_expiry_max" help:"cap on how long stored messages live (0: only the publisher's own expiry)"`
	// SessionExpiryMax caps MQTT 5 session expiry; 0 means no cap. MQTT
	// 3.1.1 persistent sessions last this long after disconnect (0:
	// forever). Default 0.
	SessionExpiryMax time.Duration `yaml:"session_expiry_max" help:"cap on how long a disconnected persistent session is kept (0: no cap)"`
	// ConnectTimeout is how long a new connection may take to send its
	// CONNECT (TLS handshake and WebSocket upgrade included) before it is
	// closed, so idle sockets cannot pile up. Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout" help:"time a new MQTT connection has to send CONNECT before it is closed"`
	// KeepaliveMax caps the keepalive a client may ask for; a client asking
	// for more (or for none) is told this value in the MQTT 5 CONNACK
	// (Server Keep Alive) and disconnected after 1.5 times it of silence.
	// 0 accepts what clients ask. Default 0.
	KeepaliveMax time.Duration `yaml:"keepalive_max" help:"largest keepalive a client may use; longer (or none) is cut to this (0: accept any)"`
	// SysInterval is how often $SYS topics are published; 0 turns them off.
	// Default 10s.
	SysInterval time.Duration `yaml:"sys_interval" help:"how often $SYS statistics are published (0: never)"`
}

// PacketOverhead is the room the MQTT maximum packet size leaves beyond
// MQTTMaxFrame for the fixed header, topic and properties (docs/protocol.md).
const PacketOverhead = 16 * units.KiB

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		Listen:         "127.0.0.1",
		MQTTPort:       1883,
		HTTPPort:       8080,
		TopicPrefix:    "agents",
		MQTTMaxFrame:   256 * units.KiB,
		WSMaxFrame:     4 * units.MiB,
		MaxClients:     10000,
		MaxInflight:    8192,
		MaxQueued:      1024,
		ReceiveMaximum: 1024,
		ConnectTimeout: 10 * time.Second,
		SysInterval:    10 * time.Second,
	}
}

// FieldError names the configuration field that is wrong.
type FieldError struct {
	Field   string // config-file key, e.g. "mqtt_port"
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate checks every field, including the Mosquitto-2-style rule that a
// non-loopback listener needs credentials or explicit anonymous access.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return fieldErr("listen", "must not be empty (use 0.0.0.0 for every interface)")
	}
	if strings.ContainsAny(c.Listen, " /") {
		return fieldErr("listen", "%q is not a host or IP address", c.Listen)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"mqtt_port", c.MQTTPort}, {"http_port", c.HTTPPort}} {
		if p.v < 0 || p.v > 65535 {
			return fieldErr(p.name, "%d is not a port (0-65535)", p.v)
		}
	}
	if c.MQTTPort != 0 && c.MQTTPort == c.HTTPPort {
		return fieldErr("http_port", "must differ from mqtt_port (%d)", c.MQTTPort)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fieldErr("tls_key", "tls_cert and tls_key must be given together")
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			return fieldErr("allowed_origins", "%q: want scheme://host[:port] or *", o)
		}
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") || strings.HasPrefix(c.TopicPrefix, "$") {
		return fieldErr("topic_prefix", "%q must be a non-empty topic without wildcards or a leading $", c.TopicPrefix)
	}
	if c.MQTTMaxFrame < 1 || c.MQTTMaxFrame > 256*units.MiB-PacketOverhead {
		return fieldErr("mqtt_max_frame", "%s out of range (1B-256MiB less 16KiB, the MQTT packet limit)", c.MQTTMaxFrame)
	}
	if c.WSMaxFrame < 1 || c.WSMaxFrame > units.GiB {
		return fieldErr("ws_max_frame", "%s out of range (1B-1GiB)", c.WSMaxFrame)
	}
	if c.MaxClients < 0 {
		return fieldErr("max_clients", "must not be negative")
	}
	if c.MaxInflight < 1 || c.MaxInflight > 65535 {
		return fieldErr("max_inflight", "%d out of range (1-65535)", c.MaxInflight)
	}
	if c.MaxQueued < 1 || c.MaxQueued > 1<<20 {
		return fieldErr("max_queued", "%d out of range (1-1048576)", c.MaxQueued)
	}
	if c.ReceiveMaximum < 1 || c.ReceiveMaximum > 65535 {
		return fieldErr("receive_maximum", "%d out of range (1-65535)", c.ReceiveMaximum)
	}
	if c.PublishRate < 0 {
		return fieldErr("publish_rate", "must not be negative")
	}
	if c.PublishBurst < 0 {
		return fieldErr("publish_burst", "must not be negative")
	}
	if c.MessageExpiryMax < 0 {
		return fieldErr("message_expiry_max", "must not be negative")
	}
	if c.SessionExpiryMax < 0 || c.SessionExpiryMax > time.Duration(1<<32-1)*time.Second {
		return fieldErr("session_expiry_max", "out of range (0-4294967295s)")
	}
	if c.ConnectTimeout < 100*time.Millisecond {
		return fieldErr("connect_timeout", "must be at least 100ms")
	}
	if c.KeepaliveMax < 0 || c.KeepaliveMax > 65535*time.Second || (c.KeepaliveMax > 0 && c.KeepaliveMax < time.Second) {
		return fieldErr("keepalive_max", "must be 0 or between 1s and 65535s")
	}
	if c.SysInterval < 0 || (c.SysInterval > 0 && c.SysInterval < time.Second) {
		return fieldErr("sys_interval", "must be 0 or at least 1s")
	}
	if c.Credentials == "" && !c.AllowAnonymous && !IsLoopback(c.Listen) {
		return fieldErr("listen", "%s is not a loopback address and no credentials file is set: "+
			"add users with 'outpost passwd add USER --credentials FILE' and start with --credentials FILE, "+
			"or accept anyone with --allow-anonymous", c.Listen)
	}
	return nil
}

// IsLoopback reports whether host (a name or IP) only reaches this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// open reports whether the gateway runs with everything open: loopback with
// no credentials file. Credentials clients send anyway are ignored.
func (c *Config) open() bool { return c.Credentials == "" }
