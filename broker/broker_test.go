package broker_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/broker/auth"
	"github.com/outpost-iot/outpost/internal/units"
)

// wait bounds every wait in these tests; generous because -race and a
// loaded 2-core CI machine are slow, never a performance assertion.
const wait = 30 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startGateway runs a broker on random loopback ports in dir.
func startGateway(t *testing.T, dir string, mutate func(*broker.Config)) *broker.Server {
	t.Helper()
	return startGatewayWith(t, dir, nil, mutate)
}

// startGatewayWith runs a broker that hands agent traffic to agents.
func startGatewayWith(t *testing.T, dir string, agents broker.Agents, mutate func(*broker.Config)) *broker.Server {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.MQTTPort, cfg.HTTPPort = 0, 0
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := broker.New(cfg, broker.Options{DataDir: dir, Logger: testLogger(t), Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeGateway(t, s) })
	return s
}

func closeGateway(t *testing.T, s *broker.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}

func mqttURL(s *broker.Server) string { return "tcp://" + s.MQTTAddr().String() }

func clientOpts(url, id string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker(url).SetClientID(id).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(wait).
		SetOrderMatters(false)
}

func dial(t *testing.T, o *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", o.ClientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func connectErr(o *paho.ClientOptions) error {
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return fmt.Errorf("connect timed out")
	}
	if tok.Error() == nil {
		c.Disconnect(50)
	}
	return tok.Error()
}

// inbox collects messages delivered to a subscription.
type inbox struct {
	mu   sync.Mutex
	msgs []paho.Message
	ch   chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1<<16)} }

func (b *inbox) handle(_ paho.Client, m paho.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	b.ch <- struct{}{}
}

// add records a message from a client library other than paho.mqtt.golang.
func (b *inbox) add(topic string, payload []byte) {
	b.handle(nil, message{topic: topic, payload: append([]byte(nil), payload...)})
}

// message is a received message as paho.Message, for other client libraries.
type message struct {
	paho.Message
	topic   string
	payload []byte
}

func (m message) Topic() string   { return m.topic }
func (m message) Payload() []byte { return m.payload }

func (b *inbox) waitFor(t *testing.T, n int) []paho.Message {
	t.Helper()
	deadline := time.After(wait)
	for {
		b.mu.Lock()
		got := len(b.msgs)
		b.mu.Unlock()
		if got >= n {
			b.mu.Lock()
			defer b.mu.Unlock()
			return append([]paho.Message(nil), b.msgs...)
		}
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", got, n)
		}
	}
}

// none checks that nothing more than n messages arrived within a short grace.
func (b *inbox) none(t *testing.T, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.msgs) != n {
		t.Fatalf("got %d messages, want exactly %d", len(b.msgs), n)
	}
}

func subscribe(t *testing.T, c paho.Client, filter string, qos byte, b *inbox) {
	t.Helper()
	tok := c.Subscribe(filter, qos, b.handle)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, retained bool, payload any) {
	t.Helper()
	tok := c.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func TestPubSubAllQoS(t *testing.T) {
	s := startGateway(t, t.TempDir(), nil)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			sub := dial(t, clientOpts(mqttURL(s), fmt.Sprintf("sub-%d", qos)).SetOrderMatters(true))
			pub := dial(t, clientOpts(mqttURL(s), fmt.Sprintf("pub-%d", qos)))
			b := newInbox()
			topic := fmt.Sprintf("t/qos%d", qos)
			subscribe(t, sub, topic, qos, b)
			const n = 50
			for i := 0; i < n; i++ {
				publish(t, pub, topic, qos, false, fmt.Sprintf("m%d", i))
			}
			msgs := b.waitFor(t, n)
			for i, m := range msgs {
				if string(m.Payload()) != fmt.Sprintf("m%d", i) || m.Qos() != qos {
					t.Fatalf("message %d: %q qos %d", i, m.Payload(), m.Qos())
				}
			}
			b.none(t, n)
		})
	}
}

func TestRetained(t *testing.T) {
	s := startGateway(t, t.TempDir(), nil)
	pub := dial(t, clientOpts(mqttURL(s), "pub"))
	publish(t, pub, "status/dev1", 1, true, "online")
	// Mochi acknowledges a publish before it delivers it; the PUBACK of
	// the next publish from the same client comes after that delivery,
	// so the subscriber below cannot get "online" live.
	publish(t, pub, "barrier", 1, false, "")

	sub := dial(t, clientOpts(mqttURL(s), "late"))
	b := newInbox()
	subscribe(t, sub, "status/+", 1, b)
	m := b.waitFor(t, 1)[0]
	if string(m.Payload()) != "online" || !m.Retained() {
		t.Fatalf("retained: %q retained=%v", m.Payload(), m.Retained())
	}

	publish(t, pub, "status/dev1", 1, true, "") // clears it
	publish(t, pub, "barrier", 1, false, "")
	sub2 := dial(t, clientOpts(mqttURL(s), "later"))
	b2 := newInbox()
	subscribe(t, sub2, "status/+", 1, b2)
	b2.none(t, 0)
}

// TestPersistentSessionAcrossRestart: QoS 1 messages published while a
// persistent subscriber is offline reach it after the gateway restarts.
func TestPersistentSessionAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := startGateway(t, dir, nil)

	b := newInbox()
	o := clientOpts(mqttURL(s1), "persistent-sub").SetCleanSession(false)
	sub := dial(t, o)
	subscribe(t, sub, "p/#", 1, b)
	sub.Disconnect(100)

	pub := dial(t, clientOpts(mqttURL(s1), "pub"))
	for i := 0; i < 5; i++ {
		publish(t, pub, fmt.Sprintf("p/%d", i), 1, false, fmt.Sprintf("offline-%d", i))
	}
	publish(t, pub, "r/keep", 1, true, "retained-across-restart")
	pub.Disconnect(100)
	closeGateway(t, s1)

	s2 := startGateway(t, dir, nil)
	o2 := clientOpts(mqttURL(s2), "persistent-sub").SetCleanSession(false).SetDefaultPublishHandler(b.handle)
	dial(t, o2)
	msgs := b.waitFor(t, 5)
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[string(m.Payload())] = true
	}
	for i := 0; i < 5; i++ {
		if !seen[fmt.Sprintf("offline-%d", i)] {
			t.Fatalf("offline-%d missing after restart; got %d messages", i, len(msgs))
		}
	}

	late := dial(t, clientOpts(mqttURL(s2), "late"))
	rb := newInbox()
	subscribe(t, late, "r/keep", 1, rb)
	if m := rb.waitFor(t, 1)[0]; string(m.Payload()) != "retained-across-restart" {
		t.Fatalf("retained after restart: %q", m.Payload())
	}
}

// TestCleanSessionNotRestored: a clean session leaves nothing behind.
func TestCleanSessionNotRestored(t *testing.T) {
	dir := t.TempDir()
	s1 := startGateway(t, dir, nil)
	sub := dial(t, clientOpts(mqttURL(s1), "clean-sub"))
	subscribe(t, sub, "c/#", 1, newInbox())
	sub.Disconnect(100)
	closeGateway(t, s1)

	s2 := startGateway(t, dir, nil)
	b := newInbox()
	dial(t, clientOpts(mqttURL(s2), "clean-sub").SetCleanSession(false).SetDefaultPublishHandler(b.handle))
	pub := dial(t, clientOpts(mqttURL(s2), "pub"))
	publish(t, pub, "c/x", 1, false, "x")
	b.none(t, 0)
}

func writeCreds(t *testing.T, path string, edit func(f *auth.File)) {
	t.Helper()
	f, _ := auth.ReadFile(path)
	if f == nil {
		f = &auth.File{}
	}
	edit(f)
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
}

func setUser(t *testing.T, f *auth.File, name, pw string, admin bool, rules ...auth.Rule) {
	t.Helper()
	if err := f.SetPassword(name, pw); err != nil {
		t.Fatal(err)
	}
	u := f.User(name)
	u.Admin, u.ACL = admin, rules
}

func credsGateway(t *testing.T, anonymous bool) (*broker.Server, string) {
	return credsGatewayWith(t, anonymous, nil)
}

func credsGatewayWith(t *testing.T, anonymous bool, agents broker.Agents) (*broker.Server, string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.yaml")
	writeCreds(t, path, func(f *auth.File) {
		setUser(t, f, "ops", "ops-pw", true)
		setUser(t, f, "dev", "dev-pw", false,
			auth.Rule{Agent: "twin/%u"},
			auth.Rule{Topic: "sensors/%c/#", Access: auth.AccessWrite})
		setUser(t, f, "reader", "reader-pw", false,
			auth.Rule{Topic: "public/secret", Access: auth.AccessDeny},
			auth.Rule{Topic: "public/#", Access: auth.AccessRead})
		f.Anonymous = &auth.Anonymous{ACL: []auth.Rule{{Topic: "public/#", Access: auth.AccessRead}}}
	})
	s := startGatewayWith(t, dir, agents, func(c *broker.Config) {
		c.Credentials = path
		c.AllowAnonymous = anonymous
	})
	return s, path
}

func TestAuthentication(t *testing.T) {
	s, _ := credsGateway(t, false)
	url := mqttURL(s)
	if err := connectErr(clientOpts(url, "c1").SetUsername("dev").SetPassword("wrong")); err == nil || !strings.Contains(err.Error(), "not Authorized") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := connectErr(clientOpts(url, "c2").SetUsername("nobody").SetPassword("x")); err == nil {
		t.Fatal("unknown user admitted")
	}
	if err := connectErr(clientOpts(url, "c3")); err == nil {
		t.Fatal("anonymous admitted without allow_anonymous")
	}
	dial(t, clientOpts(url, "c4").SetUsername("dev").SetPassword("dev-pw"))
}

func TestAnonymousGetsAnonymousRules(t *testing.T) {
	s, _ := credsGateway(t, true)
	url := mqttURL(s)
	anon := dial(t, clientOpts(url, "anon"))
	b := newInbox()
	subscribe(t, anon, "public/#", 0, b)
	ops := dial(t, clientOpts(url, "ops").SetUsername("ops").SetPassword("ops-pw"))
	publish(t, ops, "public/news", 1, false, "hi")
	b.waitFor(t, 1)
	// A write by an anonymous MQTT 3.1.1 client outside its rules ends its
	// connection (MQTT 3.1.1 has no negative PUBACK).
	tok := anon.Publish("public/news", 1, false, "spoof")
	tok.WaitTimeout(time.Second)
	deadline := time.Now().Add(wait)
	for anon.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if anon.IsConnectionOpen() {
		t.Fatal("denied publish did not end the connection")
	}
	b.none(t, 1)
}

func TestACL(t *testing.T) {
	s, _ := credsGateway(t, false)
	url := mqttURL(s)
	ops := dial(t, clientOpts(url, "ops").SetUsername("ops").SetPassword("ops-pw"))
	all := newInbox()
	subscribe(t, ops, "#", 1, all)

	dev := dial(t, clientOpts(url, "dev-client").SetUsername("dev").SetPassword("dev-pw"))
	publish(t, dev, "agents/twin/dev/in", 1, false, "ok1")
	publish(t, dev, "sensors/dev-client/temp", 1, false, "ok2")
	all.waitFor(t, 2)

	// Subscribing outside the rules is refused in the SUBACK.
	tok := dev.Subscribe("sensors/#", 1, nil)
	tok.WaitTimeout(wait)
	if st, ok := tok.(*paho.SubscribeToken); !ok || st.Result()["sensors/#"] != 0x80 {
		t.Fatalf("subscribe outside rules: %v", tok.(*paho.SubscribeToken).Result())
	}

	// A QoS 0 publish outside the rules is dropped and the connection stays.
	publish(t, dev, "agents/twin/other/in", 0, false, "denied")
	all.none(t, 2)
	if !dev.IsConnectionOpen() {
		t.Fatal("QoS 0 denial closed the connection")
	}

	// Per-delivery filtering: reader is subscribed to public/# but the deny
	// rule for public/secret comes first.
	reader := dial(t, clientOpts(url, "reader").SetUsername("reader").SetPassword("reader-pw"))
	rb := newInbox()
	subscribe(t, reader, "public/#", 1, rb)
	publish(t, ops, "public/secret", 1, false, "no")
	publish(t, ops, "public/news", 1, false, "yes")
	if m := rb.waitFor(t, 1)[0]; string(m.Payload()) != "yes" {
		t.Fatalf("reader got %q", m.Payload())
	}
	rb.none(t, 1)
}

func TestReloadKeepsConnections(t *testing.T) {
	s, path := credsGateway(t, false)
	url := mqttURL(s)
	dev := dial(t, clientOpts(url, "dev-client").SetUsername("dev").SetPassword("dev-pw"))
	writeCreds(t, path, func(f *auth.File) { setUser(t, f, "dev", "new-pw", false, auth.Rule{Agent: "twin/%u"}) })
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if !dev.IsConnectionOpen() {
		t.Fatal("reload dropped a connection")
	}
	if err := connectErr(clientOpts(url, "d2").SetUsername("dev").SetPassword("dev-pw")); err == nil {
		t.Fatal("old password still accepted after reload")
	}
	dial(t, clientOpts(url, "d3").SetUsername("dev").SetPassword("new-pw"))

	// A broken file keeps the old credentials.
	if err := os.WriteFile(path, []byte("users: [{name: x, password: plaintext}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("reload accepted a plaintext password")
	}
	dial(t, clientOpts(url, "d4").SetUsername("dev").SetPassword("new-pw"))
}

func httpGet(t *testing.T, c *http.Client, url string, setAuth func(*http.Request)) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if setAuth != nil {
		setAuth(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHTTPAuthentication(t *testing.T) {
	s, path := credsGateway(t, false)
	var token string
	writeCreds(t, path, func(f *auth.File) {
		var err error
		if token, err = f.AddToken("ops", "test"); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.HTTPAddr().String()
	c := http.DefaultClient
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	cases := []struct {
		path string
		auth func(*http.Request)
		want int
	}{
		{"/healthz", nil, 200},
		{"/metrics", nil, 401},
		{"/metrics", basic("dev", "wrong"), 401},
		{"/metrics", basic("dev", "dev-pw"), 200},
		{"/metrics", bearer(token), 200},
		{"/metrics", bearer("opt_nope"), 401},
		{"/admin/clients", basic("dev", "dev-pw"), 403},
		{"/admin/clients", basic("ops", "ops-pw"), 200},
		{"/admin/stats", bearer(token), 200},
		{"/agents/echo/x", nil, 401},
		{"/agents/echo/x", basic("dev", "dev-pw"), 501},
		{"/v1/models", basic("dev", "dev-pw"), 501},
	}
	for _, tc := range cases {
		if code, body := httpGet(t, c, base+tc.path, tc.auth); code != tc.want {
			t.Errorf("GET %s: %d %s, want %d", tc.path, code, body, tc.want)
		}
	}
}

func TestOpenGatewayIgnoresCredentials(t *testing.T) {
	s := startGateway(t, t.TempDir(), nil)
	dial(t, clientOpts(mqttURL(s), "x").SetUsername("whoever").SetPassword("whatever"))
	if code, _ := httpGet(t, http.DefaultClient, "http://"+s.HTTPAddr().String()+"/admin/clients", nil); code != 200 {
		t.Fatalf("open gateway admin: %d", code)
	}
}

func TestMetrics(t *testing.T) {
	s := startGateway(t, t.TempDir(), nil)
	sub := dial(t, clientOpts(mqttURL(s), "sub"))
	b := newInbox()
	subscribe(t, sub, "m/#", 1, b)
	pub := dial(t, clientOpts(mqttURL(s), "pub"))
	for i := 0; i < 3; i++ {
		publish(t, pub, "m/x", 1, false, "x")
	}
	b.waitFor(t, 3)
	// Polled: a message is counted as sent after its write returns, which
	// may be after the subscriber has it.
	eventuallyMetrics(t, s,
		`outpost_mqtt_messages_received_total{listener="mqtt"} 3`,
		`outpost_mqtt_messages_sent_total{listener="mqtt"} 3`,
		`outpost_mqtt_connections{listener="mqtt"} 2`,
		`outpost_mqtt_received_bytes_total{listener="mqtt"}`,
		`outpost_mqtt_subscriptions 1`)
}

func TestMQTTOverWebSocket(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) { c.AllowedOrigins = []string{"https://dash.example"} })
	wsURL := "ws://" + s.HTTPAddr().String() + "/mqtt"
	sub := dial(t, clientOpts(wsURL, "ws-sub"))
	b := newInbox()
	subscribe(t, sub, "w/#", 1, b)
	tcp := dial(t, clientOpts(mqttURL(s), "tcp-pub"))
	publish(t, tcp, "w/1", 1, false, "over tcp")
	ws := dial(t, clientOpts(wsURL, "ws-pub"))
	publish(t, ws, "w/2", 2, false, "over ws")
	b.waitFor(t, 2)

	origin := func(o string) int {
		h := http.Header{}
		h.Set("Origin", o)
		h.Set("Sec-WebSocket-Protocol", "mqtt")
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL, h)
		if err == nil {
			conn.Close()
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	if code := origin("https://evil.example"); code != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", code)
	}
	if code := origin("https://dash.example"); code != http.StatusSwitchingProtocols {
		t.Fatalf("allowed origin: %d", code)
	}
}

func TestWebSocketSameOriginByDefault(t *testing.T) {
	s := startGateway(t, t.TempDir(), nil)
	wsURL := "ws://" + s.HTTPAddr().String() + "/mqtt"
	for o, want := range map[string]int{
		"http://" + s.HTTPAddr().String(): http.StatusSwitchingProtocols,
		"http://attacker.example":         http.StatusForbidden,
	} {
		h := http.Header{"Origin": {o}}
		conn, resp, _ := websocket.DefaultDialer.Dial(wsURL, h)
		if conn != nil {
			conn.Close()
		}
		if resp == nil || resp.StatusCode != want {
			t.Errorf("origin %s: %v, want %d", o, resp, want)
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outpost-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s := startGateway(t, dir, func(c *broker.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	tlsCfg := &tls.Config{RootCAs: pool}
	c := dial(t, clientOpts("ssl://"+s.MQTTAddr().String(), "tls-client").SetTLSConfig(tlsCfg))
	b := newInbox()
	subscribe(t, c, "tls/#", 1, b)
	publish(t, c, "tls/x", 1, false, "secret")
	b.waitFor(t, 1)

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	if code, _ := httpGet(t, hc, "https://"+s.HTTPAddr().String()+"/healthz", nil); code != 200 {
		t.Fatalf("https healthz: %d", code)
	}
	// Plain MQTT on the TLS port gets nowhere.
	if err := connectErr(clientOpts(mqttURL(s), "plain").SetConnectTimeout(2 * time.Second)); err == nil {
		t.Fatal("plain MQTT accepted on the TLS port")
	}
}

func TestOversizedPacketRefused(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) { c.MQTTMaxFrame = units.KiB })
	sub := dial(t, clientOpts(mqttURL(s), "sub"))
	b := newInbox()
	subscribe(t, sub, "big/#", 1, b)

	big := dial(t, clientOpts(mqttURL(s), "big"))
	big.Publish("big/x", 1, false, strings.Repeat("x", int(units.KiB+broker.PacketOverhead)+1)).WaitTimeout(time.Second)
	deadline := time.Now().Add(wait)
	for big.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if big.IsConnectionOpen() {
		t.Fatal("oversized packet did not end the connection")
	}
	ok := dial(t, clientOpts(mqttURL(s), "ok"))
	publish(t, ok, "big/y", 1, false, strings.Repeat("y", int(units.KiB)))
	if m := b.waitFor(t, 1)[0]; m.Topic() != "big/y" {
		t.Fatalf("got %s", m.Topic())
	}
	b.none(t, 1)
}

func TestMaxClients(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) { c.MaxClients = 2 })
	dial(t, clientOpts(mqttURL(s), "a"))
	dial(t, clientOpts(mqttURL(s), "b"))
	if err := connectErr(clientOpts(mqttURL(s), "c")); err == nil {
		t.Fatal("third client admitted with max_clients 2")
	}
}

func TestPublishRateLimitLosesNothing(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) { c.PublishRate, c.PublishBurst = 100, 5 })
	sub := dial(t, clientOpts(mqttURL(s), "sub"))
	b := newInbox()
	subscribe(t, sub, "rl/#", 0, b)
	pub := dial(t, clientOpts(mqttURL(s), "pub"))
	const n = 40
	for i := 0; i < n; i++ {
		pub.Publish("rl/x", 0, false, "x") // QoS 0, not waited on: a burst
	}
	b.waitFor(t, n)
	b.none(t, n)
}

func TestSysTopics(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) { c.SysInterval = time.Second })
	c := dial(t, clientOpts(mqttURL(s), "sys"))
	b := newInbox()
	subscribe(t, c, "$SYS/broker/version", 0, b)
	if m := b.waitFor(t, 1)[0]; string(m.Payload()) != broker.MochiVersion {
		t.Fatalf("$SYS/broker/version = %q", m.Payload())
	}
}

func TestCloseIdempotentAndRefusesNewClients(t *testing.T) {
	s := startGateway(t, t.TempDir(), nil)
	c := dial(t, clientOpts(mqttURL(s), "x"))
	closeGateway(t, s)
	closeGateway(t, s)
	if c.IsConnectionOpen() {
		time.Sleep(200 * time.Millisecond)
	}
	if err := connectErr(clientOpts(mqttURL(s), "y").SetConnectTimeout(time.Second)); err == nil {
		t.Fatal("connected after Close")
	}
}

func TestStartFailureRollsBack(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := broker.DefaultConfig()
	cfg.MQTTPort = 0
	cfg.HTTPPort = busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	s, err := broker.New(cfg, broker.Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen http") {
		t.Fatalf("start on a busy port: %v", err)
	}
	// The session store was closed again: a new gateway can open it.
	startGateway(t, dir, nil)
}

func TestKeepaliveMax(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) { c.KeepaliveMax = 30 * time.Second })
	// paho.mqtt.golang speaks 3.1.1, which cannot be told a keepalive; the
	// server still enforces the cap. Check the MQTT 5 CONNACK with a raw
	// client: CONNECT v5 with keepalive 600.
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0x02, 0x58, 0, 0, 0}
	if _, err := conn.Write(connect); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	ack := buf[:n]
	// Server Keep Alive is property 0x13 with a two-byte value.
	if i := bytes.IndexByte(ack[5:], 0x13); i < 0 || binary.BigEndian.Uint16(ack[5+i+1:]) != 30 {
		t.Fatalf("CONNACK lacks Server Keep Alive 30: % x", ack)
	}
}

// TestSilentConnectionClosed: a socket that never sends CONNECT is closed
// after connect_timeout and does not hold a connection slot.
func TestSilentConnectionClosed(t *testing.T) {
	s := startGateway(t, t.TempDir(), func(c *broker.Config) {
		c.ConnectTimeout = 300 * time.Millisecond
		c.MaxClients = 1
	})
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("silent connection got data instead of being closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent connection was never closed")
	}
	dial(t, clientOpts(mqttURL(s), "after-silent"))
}
