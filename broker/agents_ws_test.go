package broker_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/broker/auth"
	"github.com/outpost-iot/outpost/internal/units"
	"github.com/outpost-iot/outpost/wire"
)

func agentWSURL(s *broker.Server, path string) string { return "ws://" + s.HTTPAddr().String() + path }

// dialAgent opens an agent WebSocket and returns the connection (nil on a
// refusal) and the HTTP status of the handshake.
func dialAgent(t *testing.T, url string, h http.Header) (*websocket.Conn, int) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, h)
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp.StatusCode
}

func readWS(t *testing.T, c *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	kind, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return kind, data
}

// closeCode reads until the socket closes and returns the close code.
func closeCode(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

// TestRule8_1Refusals: unknown classes, empty names, bad options, foreign
// origins and ACL refusals are answered before any upgrade.
func TestRule8_1Refusals(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	for path, want := range map[string]int{
		"/agents/nope/x":               http.StatusNotFound,
		"/agents/echo/":                http.StatusNotFound,
		"/agents/echo/x?codec=xml":     http.StatusBadRequest,
		"/agents/echo/x?protocol=nope": http.StatusBadRequest,
		"/agents/echo/x?codec=cbor":    http.StatusSwitchingProtocols,
	} {
		if _, code := dialAgent(t, agentWSURL(s, path), nil); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	if _, code := dialAgent(t, agentWSURL(s, "/agents/echo/x"), http.Header{"Origin": {"http://evil.example"}}); code != http.StatusForbidden {
		t.Errorf("foreign origin: %d", code)
	}
	f.expect(t, "join") // the one that was upgraded

	f2 := newFakeAgents()
	cs, _ := credsGatewayWith(t, false, f2)
	basic := func(u, p string) http.Header {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	for path, want := range map[string]int{
		"/agents/twin/dev":   http.StatusSwitchingProtocols,
		"/agents/twin/other": http.StatusForbidden,
		"/agents/echo/dev":   http.StatusForbidden,
	} {
		if _, code := dialAgent(t, agentWSURL(cs, path), basic("dev", "dev-pw")); code != want {
			t.Errorf("dev %s: %d, want %d", path, code, want)
		}
	}
	if _, code := dialAgent(t, agentWSURL(cs, "/agents/twin/dev"), nil); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", code)
	}
	if j := f2.expect(t, "join").join; j.User != "dev" {
		t.Errorf("join user %q", j.User)
	}
}

// TestRule8_2QueryInJoin: _pk, codec and protocol reach the Join; the name
// is percent-decoded.
func TestRule8_2QueryInJoin(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	dialAgent(t, agentWSURL(s, "/agents/echo/room%2F1?_pk=abc-123&codec=cbor&protocol=false"), nil)
	j := f.expect(t, "join").join
	if j.ID != "abc-123" || j.Agent != (wire.Address{Class: "echo", Name: "room/1"}) || j.Transport != wire.WebSocket ||
		j.Options != (wire.Options{Codec: wire.CBOR}) || j.Request == nil || j.Request.URL.Query().Get("_pk") != "abc-123" ||
		j.Out == nil || j.User != "" || !strings.HasPrefix(j.Key, "ws#") {
		t.Fatalf("join: %+v", j)
	}
	dialAgent(t, agentWSURL(s, "/agents/echo/plain"), nil)
	j2 := f.expect(t, "join").join
	if len(j2.ID) != 36 || j2.Options != (wire.Options{Codec: wire.JSON, Protocol: true}) || j2.Key == j.Key {
		t.Fatalf("default join: %+v", j2)
	}
}

// TestRule8_TextAndBinaryBothWays: the message type is kept from the
// client to the agent and from the agent to the client.
func TestRule8_TextAndBinaryBothWays(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	c, _ := dialAgent(t, agentWSURL(s, "/agents/echo/tb"), nil)
	key := f.expect(t, "join").key
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"rpc"}`)); err != nil {
		t.Fatal(err)
	}
	if r := f.expect(t, "receive").recv; r.Key != key || r.Binary || string(r.Data) != `{"type":"rpc"}` || r.Wait || r.From.ID == "" {
		t.Fatalf("text receive: %+v", r)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if r := f.expect(t, "receive").recv; !r.Binary || !bytes.Equal(r.Data, []byte{1, 2, 3}) {
		t.Fatalf("binary receive: %+v", r)
	}
	sink := f.sink(t, key)
	if err := sink.Write([]byte(`{"type":"cf_agent_identity"}`), false); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write([]byte{0xa0}, true); err != nil {
		t.Fatal(err)
	}
	if kind, data := readWS(t, c); kind != websocket.TextMessage || string(data) != `{"type":"cf_agent_identity"}` {
		t.Fatalf("text frame: %d %q", kind, data)
	}
	if kind, data := readWS(t, c); kind != websocket.BinaryMessage || !bytes.Equal(data, []byte{0xa0}) {
		t.Fatalf("binary frame: %d %q", kind, data)
	}

	// Sink.Close sends the close code after the frames queued before it;
	// the socket's end leaves the agent.
	_ = sink.Write([]byte("last"), false)
	_ = sink.Close(4000, "bye")
	if _, data := readWS(t, c); string(data) != "last" {
		t.Fatalf("frame before close: %q", data)
	}
	if code := closeCode(t, c); code != 4000 {
		t.Fatalf("close code %d", code)
	}
	if e := f.expect(t, "leave"); e.key != key {
		t.Fatalf("leave: %+v", e)
	}
}

// TestRule8_4PingPong: a text "ping" is answered "pong" by the gateway and
// never reaches the agent; a binary "ping" is an ordinary frame.
func TestRule8_4PingPong(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	c, _ := dialAgent(t, agentWSURL(s, "/agents/echo/pp"), nil)
	key := f.expect(t, "join").key
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if kind, data := readWS(t, c); kind != websocket.TextMessage || string(data) != "pong" {
		t.Fatalf("answer to ping: %d %q", kind, data)
	}
	f.quiet(t, "receive")
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if r := f.expect(t, "receive").recv; !r.Binary || string(r.Data) != "ping" {
		t.Fatalf("binary ping: %+v", r)
	}
	// The client closing the socket leaves the agent.
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if e := f.expect(t, "leave"); e.key != key {
		t.Fatalf("leave: %+v", e)
	}
}

// TestRule8_3OversizedFrames: an oversized message reaches the agent cut
// to ws_max_frame+1 bytes (which the protocol layer refuses as too large)
// and the socket stays open; the third one, or one too large to drain,
// closes it with 1009.
func TestRule8_3OversizedFrames(t *testing.T) {
	f := newFakeAgents()
	f.setReceive(func(_ context.Context, r wire.Receive) error {
		if len(r.Data) > int(units.KiB) {
			return wire.ErrTooLarge
		}
		return nil
	})
	s := agentGateway(t, f, func(c *broker.Config) { c.WSMaxFrame = units.KiB })
	c, _ := dialAgent(t, agentWSURL(s, "/agents/echo/big"), nil)
	key := f.expect(t, "join").key
	big := bytes.Repeat([]byte("x"), 2*int(units.KiB))
	for i := 0; i < 2; i++ {
		if err := c.WriteMessage(websocket.BinaryMessage, big); err != nil {
			t.Fatal(err)
		}
		if r := f.expect(t, "receive").recv; len(r.Data) != int(units.KiB)+1 || !r.Binary {
			t.Fatalf("oversized receive %d: %d bytes", i, len(r.Data))
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("small")); err != nil {
			t.Fatal(err)
		}
		if r := f.expect(t, "receive").recv; string(r.Data) != "small" {
			t.Fatalf("after oversized: %q", r.Data)
		}
	}
	if err := c.WriteMessage(websocket.BinaryMessage, big); err != nil {
		t.Fatal(err)
	}
	f.expect(t, "receive")
	if code := closeCode(t, c); code != websocket.CloseMessageTooBig {
		t.Fatalf("third oversized: close %d", code)
	}
	if e := f.expect(t, "leave"); e.key != key {
		t.Fatalf("leave %+v", e)
	}

	huge, _ := dialAgent(t, agentWSURL(s, "/agents/echo/huge"), nil)
	f.expect(t, "join")
	if err := huge.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte("y"), 20*int(units.KiB))); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, huge); code != websocket.CloseMessageTooBig {
		t.Fatalf("undrainable message: close %d", code)
	}
}

// TestRule8_5HTTPRequests: a request that is not an upgrade reaches the
// agent's HTTP handler, after the same 404 and 403 checks.
func TestRule8_5HTTPRequests(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	base := "http://" + s.HTTPAddr().String()
	code, body := httpGet(t, http.DefaultClient, base+"/agents/echo/a%2Fb/get-messages", nil)
	if code != http.StatusOK || body != "agent http echo|a/b|/agents/echo/a/b/get-messages" {
		t.Fatalf("agent http: %d %q", code, body)
	}
	if code, _ := httpGet(t, http.DefaultClient, base+"/agents/nope/x", nil); code != http.StatusNotFound {
		t.Fatalf("unknown class over http: %d", code)
	}
}

// TestRule8_6SlowConsumer: a client that reads nothing fills its queue;
// the next frame is refused with wire.ErrSlowConsumer and the socket is
// closed, which leaves the agent.
func TestRule8_6SlowConsumer(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, func(c *broker.Config) { c.MaxQueued = 2 })
	dialAgent(t, agentWSURL(s, "/agents/echo/slow"), nil) // never reads
	key := f.expect(t, "join").key
	sink := f.sink(t, key)
	fillUntilSlow(t, sink)
	if e := f.expect(t, "leave"); e.key != key {
		t.Fatalf("leave: %+v", e)
	}
	if err := sink.Write([]byte("late"), false); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	eventuallyMetrics(t, s, `outpost_agents_frames_dropped_total{transport="websocket"}`, "outpost_agents_websocket_connections 0")
}

// TestRule8_6ShutdownClosesEverything: Close sends agent WebSockets 1001,
// disconnects joined MQTT clients, leaves every agent and waits for every
// reader and writer goroutine.
func TestRule8_6ShutdownClosesEverything(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	ws, _ := dialAgent(t, agentWSURL(s, "/agents/echo/down"), nil)
	f.expect(t, "join")
	c := dial(t, clientOpts(mqttURL(s), "down-mqtt"))
	subscribe(t, c, "agents/echo/down/out", 1, newInbox())
	f.expect(t, "join")
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	f.expect(t, "receive")
	eventuallyMetrics(t, s, "outpost_agents_websocket_connections 1", "outpost_agents_mqtt_joins 1")
	codes := make(chan int, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					codes <- ce.Code
				} else {
					codes <- -1
				}
				return
			}
		}
	}()
	closeGateway(t, s)
	select {
	case code := <-codes:
		if code != websocket.CloseGoingAway {
			t.Fatalf("close code %d", code)
		}
	case <-time.After(wait):
		t.Fatal("no close frame at shutdown")
	}
	f.expect(t, "leave")
	f.expect(t, "leave")
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, fn := range []string{"broker.(*agentSocket)", "broker.(*mqttConn)"} {
		if strings.Contains(stacks, fn) {
			t.Fatalf("goroutine of %s still running after Close:\n%s", fn, stacks)
		}
	}
}

// TestRule8_1TokenInQuery: a browser, which cannot set headers on a
// WebSocket, authenticates with ?token=; the token never reaches the agent.
func TestRule8_1TokenInQuery(t *testing.T) {
	f := newFakeAgents()
	s, path := credsGatewayWith(t, false, f)
	var token string
	writeCreds(t, path, func(file *auth.File) {
		var err error
		if token, err = file.AddToken("dev", "browser"); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, code := dialAgent(t, agentWSURL(s, "/agents/twin/dev?token=wrong"), nil); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if _, code := dialAgent(t, agentWSURL(s, "/agents/twin/dev?_pk=p1&token="+token), nil); code != http.StatusSwitchingProtocols {
		t.Fatalf("token in query: %d", code)
	}
	j := f.expect(t, "join").join
	if j.User != "dev" || j.ID != "p1" || j.Request.URL.Query().Has("token") {
		t.Errorf("join: user %q id %q query %q", j.User, j.ID, j.Request.URL.RawQuery)
	}
}

// TestRule8_5CORS: a browser app on an allowed origin may call an agent's
// HTTP handler cross-origin: the preflight is answered before
// authentication, the request itself is authenticated and gets the CORS
// headers; other origins are refused.
func TestRule8_5CORS(t *testing.T) {
	f := newFakeAgents()
	dir := t.TempDir()
	path := dir + "/creds.yaml"
	writeCreds(t, path, func(file *auth.File) { setUser(t, file, "ops", "ops-pw", true) })
	s := startGatewayWith(t, dir, f, func(c *broker.Config) {
		c.Credentials = path
		c.AllowedOrigins = []string{"https://app.example"}
	})
	base := "http://" + s.HTTPAddr().String() + "/agents/echo/x/get-messages"
	pre, _ := http.NewRequest(http.MethodOptions, base, nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "authorization")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "authorization" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	pre.Header.Set("Origin", "https://evil.example")
	if resp, err = http.DefaultClient.Do(pre); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("preflight from another origin: %d", resp.StatusCode)
	}
	for origin, want := range map[string]int{"https://app.example": http.StatusOK, "https://evil.example": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		req.Header.Set("Origin", origin)
		req.SetBasicAuth("ops", "ops-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET from %s: %d, want %d", origin, resp.StatusCode, want)
		}
		if want == http.StatusOK && resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("GET from %s: no CORS header", origin)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	req.Header.Set("Origin", "https://app.example")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without credentials: %d", resp.StatusCode)
	}
}
