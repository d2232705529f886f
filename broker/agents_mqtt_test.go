package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/broker/auth"
	"github.com/outpost-iot/outpost/wire"
)

func agentGateway(t *testing.T, f *fakeAgents, mutate func(*broker.Config)) *broker.Server {
	t.Helper()
	return startGatewayWith(t, t.TempDir(), f, mutate)
}

func (c *v5Client) suback(t *testing.T, filter string, qos byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if sa == nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return sa.Reasons
}

func (c *v5Client) publishWith(t *testing.T, p *paho5.Publish) *paho5.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if r == nil && p.QoS > 0 {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
	return r
}

func (c *v5Client) nextPublish(t *testing.T) *paho5.Publish {
	t.Helper()
	select {
	case p := <-c.pubs:
		return p
	case <-time.After(wait):
		t.Fatal("no publish received")
	}
	return nil
}

func metricsBody(t *testing.T, s *broker.Server) string {
	t.Helper()
	_, body := httpGet(t, http.DefaultClient, "http://"+s.HTTPAddr().String()+"/metrics", nil)
	return body
}

// eventually polls /metrics until it contains every line.
func eventuallyMetrics(t *testing.T, s *broker.Server, lines ...string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		body := metricsBody(t, s)
		missing := ""
		for _, l := range lines {
			if !strings.Contains(body, l) {
				missing = l
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRule6_2PolicyFromUserProperties: MQTT connections default to CBOR
// without protocol frames; MQTT 5 CONNECT user properties choose
// otherwise, and every user property reaches the agent.
func TestRule6_2PolicyFromUserProperties(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)

	plain := dialV5(t, s, "v5-default", true, 0)
	plain.subscribe(t, "agents/echo/a/out", 1)
	j := f.expect(t, "join").join
	if j.Options != (wire.Options{Codec: wire.CBOR}) || j.Transport != wire.MQTT || j.ID != "v5-default" ||
		j.Agent != (wire.Address{Class: "echo", Name: "a"}) || j.User != "" || j.Properties != nil || j.Out == nil || j.Request != nil {
		t.Fatalf("default join: %+v", j)
	}

	c, ack, err := connectV5(t, s, &paho5.Connect{ClientID: "v5-json", CleanStart: true, Properties: &paho5.ConnectProperties{
		User: paho5.UserProperties{{Key: "codec", Value: "json"}, {Key: "protocol", Value: "true"}, {Key: "fw", Value: "1.2"}},
	}})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ack)
	}
	c.subscribe(t, "agents/echo/a/out", 0)
	j = f.expect(t, "join").join
	if j.Options != (wire.Options{Codec: wire.JSON, Protocol: true}) || j.Properties["fw"] != "1.2" || j.Properties["codec"] != "json" {
		t.Fatalf("user-property join: %+v", j)
	}
}

// TestRule6_2PolicyFromUsernameQuery: any MQTT version may append the
// options to the username; the query is stripped before authentication.
func TestRule6_2PolicyFromUsernameQuery(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	c := dial(t, clientOpts(mqttURL(s), "v3-json").SetUsername("?codec=json&protocol=true"))
	subscribe(t, c, "agents/echo/q/out", 1, newInbox())
	if j := f.expect(t, "join").join; j.Options != (wire.Options{Codec: wire.JSON, Protocol: true}) || j.User != "" {
		t.Fatalf("open gateway join: %+v", j)
	}

	f2 := newFakeAgents()
	cs, _ := credsGatewayWith(t, false, f2)
	dev := dial(t, clientOpts(mqttURL(cs), "dev-client").SetUsername("dev?codec=json").SetPassword("dev-pw"))
	subscribe(t, dev, "agents/twin/dev/out", 1, newInbox())
	if j := f2.expect(t, "join").join; j.User != "dev" || j.Options != (wire.Options{Codec: wire.JSON}) {
		t.Fatalf("authenticated join: %+v", j)
	}
	if err := connectErr(clientOpts(mqttURL(cs), "dev-2").SetUsername("dev?codec=json").SetPassword("wrong")); err == nil {
		t.Fatal("wrong password admitted with a username query")
	}
	// The ACL sees the stripped name: %u is "dev", not "dev?codec=json".
	tok := dev.Subscribe("agents/twin/other/out", 1, nil)
	tok.WaitTimeout(wait)
	if got := tok.(*paho.SubscribeToken).Result()["agents/twin/other/out"]; got != 0x80 {
		t.Fatalf("subscribe to another user's twin: %#x", got)
	}
}

// TestRule6_2BadOptionRefused: an invalid option refuses the connection:
// MQTT 5 with CONNACK 0x80 and a reason naming the option, MQTT 3.1.1 with
// 0x04.
func TestRule6_2BadOptionRefused(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	_, ack, err := connectV5(t, s, &paho5.Connect{ClientID: "bad-v5", CleanStart: true, Properties: &paho5.ConnectProperties{
		User: paho5.UserProperties{{Key: "codec", Value: "xml"}},
	}})
	if err == nil || ack == nil || ack.ReasonCode != 0x80 || ack.Properties == nil || !strings.Contains(ack.Properties.ReasonString, "codec") {
		t.Fatalf("bad codec property: %v %+v", err, ack)
	}
	for _, user := range []string{"?codec=xml", "?protocol=yes", "alice?colour=red", "?codec=json&codec=cbor", "?%zz"} {
		err := connectErr(clientOpts(mqttURL(s), "bad-v3").SetUsername(user))
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "bad user name or password") {
			t.Errorf("username %q: %v", user, err)
		}
	}
	dial(t, clientOpts(mqttURL(s), "good-v3").SetUsername("alice?"))
}

// TestRule7_3JoinOnExactOutSubscribe: only a subscription to exactly an
// agent's /out topic joins; unsubscribing and disconnecting leave.
func TestRule7_3JoinOnExactOutSubscribe(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	c := dial(t, clientOpts(mqttURL(s), "joiner"))
	subscribe(t, c, "agents/echo/a/out", 1, newInbox())
	first := f.expect(t, "join")
	if !strings.HasPrefix(first.key, "joiner#") {
		t.Fatalf("join key %q", first.key)
	}
	for _, filter := range []string{"agents/#", "agents/+/a/out", "agents/echo/+/out", "$share/g/agents/echo/b/out", "agents/echo/a/in"} {
		subscribe(t, c, filter, 1, newInbox())
	}
	f.quiet(t, "join")

	tok := c.Subscribe("agents/nope/a/out", 1, nil)
	tok.WaitTimeout(wait)
	if got := tok.(*paho.SubscribeToken).Result()["agents/nope/a/out"]; got != 0x80 {
		t.Fatalf("MQTT 3.1.1 subscribe to unknown class: %#x", got)
	}
	v5 := dialV5(t, s, "joiner-v5", true, 0)
	if got := v5.suback(t, "agents/nope/a/out", 1); len(got) != 1 || got[0] != 0x8F {
		t.Fatalf("MQTT 5 subscribe to unknown class: % x", got)
	}
	f.quiet(t, "join")

	firstSink := f.sink(t, first.key)
	if tok := c.Unsubscribe("agents/echo/a/out"); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if e := f.expect(t, "leave"); e.key != first.key || e.agent != first.agent {
		t.Fatalf("leave %+v, want key %s", e, first.key)
	}
	if err := firstSink.Write([]byte("after leave"), true); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("write after leave: %v", err)
	}
	subscribe(t, c, "agents/echo/a/out", 1, newInbox())
	second := f.expect(t, "join")
	if second.key == first.key {
		t.Fatal("rejoin reused the join key")
	}
	c.Disconnect(50)
	if e := f.expect(t, "leave"); e.key != second.key {
		t.Fatalf("leave on disconnect: %+v", e)
	}
}

// TestRule7_3RejoinPersistentSession: a persistent session rejoins its
// agents when its client reconnects, also after a gateway restart.
func TestRule7_3RejoinPersistentSession(t *testing.T) {
	dir := t.TempDir()
	f := newFakeAgents()
	s1 := startGatewayWith(t, dir, f, nil)
	o := clientOpts(mqttURL(s1), "persist").SetCleanSession(false)
	c := dial(t, o)
	subscribe(t, c, "agents/echo/p/out", 1, newInbox())
	k1 := f.expect(t, "join").key
	c.Disconnect(50)
	if e := f.expect(t, "leave"); e.key != k1 {
		t.Fatalf("leave: %+v", e)
	}

	c = dial(t, clientOpts(mqttURL(s1), "persist").SetCleanSession(false))
	e := f.expect(t, "join")
	if e.key == k1 || e.join.Agent != (wire.Address{Class: "echo", Name: "p"}) || e.join.ID != "persist" {
		t.Fatalf("rejoin after reconnect: %+v", e)
	}
	c.Disconnect(50)
	f.expect(t, "leave")
	time.Sleep(100 * time.Millisecond) // let the client goroutines finish before the broker closes
	closeGateway(t, s1)

	f2 := newFakeAgents()
	s2 := startGatewayWith(t, dir, f2, nil)
	f2.quiet(t, "join") // a restored session without its client joins nothing
	dial(t, clientOpts(mqttURL(s2), "persist").SetCleanSession(false))
	if e := f2.expect(t, "join"); e.join.Agent.Name != "p" || e.join.ID != "persist" {
		t.Fatalf("rejoin after restart: %+v", e)
	}
}

// TestRule7_1InboundPublish: a publish to /in reaches the agent from any
// client, joined or not, and is never forwarded or retained.
func TestRule7_1InboundPublish(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	watcher := dial(t, clientOpts(mqttURL(s), "watcher"))
	seen := newInbox()
	subscribe(t, watcher, "agents/#", 1, seen)

	sensor := dial(t, clientOpts(mqttURL(s), "sensor-1"))
	publish(t, sensor, "agents/echo/x/in", 1, true, []byte{0xa1, 0x00})
	r := f.expect(t, "receive").recv
	if r.Key != "" || r.From.ID != "sensor-1" || r.From.Transport != wire.MQTT || r.From.Agent != (wire.Address{Class: "echo", Name: "x"}) ||
		r.From.Options != (wire.Options{Codec: wire.CBOR}) || r.From.Out != nil || !bytes.Equal(r.Data, []byte{0xa1, 0x00}) ||
		!r.Binary || !r.Wait || r.Reply != nil {
		t.Fatalf("receive: %+v", r)
	}
	seen.none(t, 0)
	late := dial(t, clientOpts(mqttURL(s), "late"))
	lateSeen := newInbox()
	subscribe(t, late, "agents/#", 1, lateSeen)
	lateSeen.none(t, 0)

	joined := dial(t, clientOpts(mqttURL(s), "joined"))
	subscribe(t, joined, "agents/echo/x/out", 1, newInbox())
	key := f.expect(t, "join").key
	publish(t, joined, "agents/echo/x/in", 0, false, "q0")
	if r := f.expect(t, "receive").recv; r.Key != key || r.Wait || string(r.Data) != "q0" {
		t.Fatalf("receive from joined client: %+v", r)
	}
	publish(t, joined, "agents/echo/y/in", 0, false, "other agent")
	if r := f.expect(t, "receive").recv; r.Key != "" || r.From.Agent.Name != "y" {
		t.Fatalf("receive for an agent not joined: %+v", r)
	}
	seen.none(t, 0)
}

// TestRule7_5PubackAfterReceive: a QoS 1 publish to /in is acknowledged
// only once Agents.Receive returned.
func TestRule7_5PubackAfterReceive(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	release := make(chan struct{})
	f.setReceive(func(ctx context.Context, _ wire.Receive) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	c := dial(t, clientOpts(mqttURL(s), "waiter"))
	tok := c.Publish("agents/echo/w/in", 1, false, "slow")
	f.expect(t, "receive")
	if tok.WaitTimeout(300 * time.Millisecond) {
		t.Fatal("PUBACK arrived before the agent processed the frame")
	}
	close(release)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("PUBACK after processing: %v", tok.Error())
	}
}

// receiveErrors makes Receive fail according to the payload.
func receiveErrors(_ context.Context, r wire.Receive) error {
	switch string(r.Data) {
	case "busy":
		return fmt.Errorf("echo/x: %w", wire.ErrBusy)
	case "limit":
		return fmt.Errorf("echo/x: %w", wire.ErrLimit)
	case "bad":
		return fmt.Errorf("decode: %w", wire.ErrMalformed)
	case "big":
		return fmt.Errorf("decode: %w", wire.ErrTooLarge)
	case "unknown":
		return wire.ErrUnknownAgent
	case "fail":
		return fmt.Errorf("handler: %w", wire.ErrFailed)
	case "closed":
		return wire.ErrClosed
	case "other":
		return errors.New("something else")
	}
	return nil
}

// TestRule7_6ReasonCodes: MQTT 5 publishes to /in get the reason code of
// what went wrong; MQTT 3.1.1 ones are acknowledged and the connection
// stays.
func TestRule7_6ReasonCodes(t *testing.T) {
	f := newFakeAgents()
	f.setReceive(receiveErrors)
	s := agentGateway(t, f, nil)
	c := dialV5(t, s, "codes", true, 0)
	for payload, want := range map[string]byte{
		"ok": 0x00, "busy": 0x97, "limit": 0x97, "bad": 0x99, "big": 0x99, "unknown": 0x90, "fail": 0x80, "closed": 0x80, "other": 0x80,
	} {
		r := c.publishWith(t, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 1, Payload: []byte(payload)})
		if r.ReasonCode != want || (want >= 0x80 && (r.Properties == nil || r.Properties.ReasonString == "")) {
			t.Errorf("%s: reason %#x %+v, want %#x with a reason string", payload, r.ReasonCode, r.Properties, want)
		}
		f.expect(t, "receive")
	}
	if r := c.publishWith(t, &paho5.Publish{Topic: "agents/nope/x/in", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0x90 {
		t.Errorf("unknown class: %#x", r.ReasonCode)
	}
	f.quiet(t, "receive")
	if r := c.publishWith(t, &paho5.Publish{Topic: "agents/echo/x/out", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0x87 {
		t.Errorf("publish to /out (rule 7.2): %#x", r.ReasonCode)
	}
	if r := c.publishWith(t, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 2, Payload: []byte("busy")}); r.ReasonCode != 0x97 {
		t.Errorf("QoS 2 busy: PUBREC %#x", r.ReasonCode)
	}
	if r := c.publishWith(t, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 2, Payload: []byte("ok")}); r.ReasonCode != 0 {
		t.Errorf("QoS 2 ok: %#x", r.ReasonCode)
	}

	v3 := dial(t, clientOpts(mqttURL(s), "codes-v3"))
	for _, p := range []string{"busy", "bad", "ok"} {
		publish(t, v3, "agents/echo/x/in", 1, false, p)
	}
	if !v3.IsConnectionOpen() {
		t.Fatal("MQTT 3.1.1 connection closed after agent errors")
	}
	eventuallyMetrics(t, s, `outpost_agents_receive_errors_total{transport="mqtt"}`)
}

// TestRule7_4ResponseTopic: replies go to an MQTT 5 response topic with
// the request's correlation data; a response topic under the agent prefix
// or one the requester may not subscribe to is refused with 0x87.
func TestRule7_4ResponseTopic(t *testing.T) {
	f := newFakeAgents()
	f.setReceive(func(_ context.Context, r wire.Receive) error {
		if r.Reply != nil {
			return r.Reply.Write(append([]byte("reply:"), r.Data...), true)
		}
		return nil
	})
	s := agentGateway(t, f, nil)
	c := dialV5(t, s, "requester", true, 0)
	c.subscribe(t, "replies/requester", 1)
	r := c.publishWith(t, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 1, Payload: []byte("ping"), Properties: &paho5.PublishProperties{
		ResponseTopic: "replies/requester", CorrelationData: []byte("c-42"),
	}})
	if r.ReasonCode != 0 {
		t.Fatalf("request: %#x", r.ReasonCode)
	}
	if rc := f.expect(t, "receive").recv; rc.Reply == nil {
		t.Fatal("Receive without a reply sink")
	}
	p := c.nextPublish(t)
	if p.Topic != "replies/requester" || string(p.Payload) != "reply:ping" || p.Properties == nil || string(p.Properties.CorrelationData) != "c-42" {
		t.Fatalf("reply: %+v", p)
	}
	for _, rt := range []string{"agents/echo/x/out", "agents/other"} {
		r := c.publishWith(t, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 1, Payload: []byte("x"), Properties: &paho5.PublishProperties{ResponseTopic: rt}})
		if r.ReasonCode != 0x87 {
			t.Errorf("response topic %s: %#x", rt, r.ReasonCode)
		}
	}
	f.quiet(t, "receive")

	f2 := newFakeAgents()
	cs, _ := credsGatewayWith(t, false, f2)
	dev, ack, err := connectV5(t, cs, &paho5.Connect{ClientID: "dev-client", CleanStart: true,
		Username: "dev", UsernameFlag: true, Password: []byte("dev-pw"), PasswordFlag: true})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect dev: %v", err)
	}
	r = dev.publishWith(t, &paho5.Publish{Topic: "agents/twin/dev/in", QoS: 1, Payload: []byte("x"), Properties: &paho5.PublishProperties{ResponseTopic: "sensors/dev-client/r"}})
	if r.ReasonCode != 0x87 {
		t.Fatalf("response topic dev may not subscribe to: %#x", r.ReasonCode)
	}
	f2.quiet(t, "receive")
	if r := dev.publishWith(t, &paho5.Publish{Topic: "agents/twin/dev/in", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0 {
		t.Fatalf("plain publish: %#x", r.ReasonCode)
	}
}

// TestRule7_3SinkWritesReachOnlyTarget: an agent frame goes to the joined
// client it is written to, on its /out topic, at the QoS of its
// subscription; nobody else sees it.
func TestRule7_3SinkWritesReachOnlyTarget(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	a := dialV5(t, s, "target-a", true, 0)
	a.subscribe(t, "agents/echo/s/out", 2)
	ka := f.expect(t, "join").key
	b := dial(t, clientOpts(mqttURL(s), "target-b"))
	bIn := newInbox()
	subscribe(t, b, "agents/echo/s/out", 0, bIn)
	kb := f.expect(t, "join").key
	w := dial(t, clientOpts(mqttURL(s), "wildcard"))
	wIn := newInbox()
	subscribe(t, w, "agents/#", 1, wIn)

	if err := f.sink(t, ka).Write([]byte{0xa1, 0x01}, true); err != nil {
		t.Fatal(err)
	}
	p := a.nextPublish(t)
	if p.Topic != "agents/echo/s/out" || !bytes.Equal(p.Payload, []byte{0xa1, 0x01}) || p.QoS != 1 {
		t.Fatalf("frame to a: %+v", p)
	}
	bIn.none(t, 0)
	wIn.none(t, 0)
	if err := f.sink(t, kb).Write([]byte("to b"), false); err != nil {
		t.Fatal(err)
	}
	if m := bIn.waitFor(t, 1)[0]; string(m.Payload()) != "to b" || m.Qos() != 0 {
		t.Fatalf("frame to b: %q qos %d", m.Payload(), m.Qos())
	}
	a.in.none(t, 1)
	wIn.none(t, 0)
	eventuallyMetrics(t, s, "outpost_mqtt_inflight_messages 0", `outpost_agents_frames_sent_total{transport="mqtt"} 2`, "outpost_agents_mqtt_joins 2")

	// Close disconnects the client with an MQTT 5 reason code.
	if err := f.sink(t, ka).Close(1008, "policy"); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-a.disc:
		if d.ReasonCode != 0x98 {
			t.Fatalf("DISCONNECT reason %#x", d.ReasonCode)
		}
	case <-time.After(wait):
		t.Fatal("no DISCONNECT after Sink.Close")
	}
	if e := f.expect(t, "leave"); e.key != ka {
		t.Fatalf("leave %+v", e)
	}
	if f.live(ka) {
		t.Fatal("join still live after disconnect")
	}
}

// TestRule7_3SlowConsumer: a client that reads nothing fills its queue;
// further frames are refused with wire.ErrSlowConsumer and counted.
func TestRule7_3SlowConsumer(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, func(c *broker.Config) { c.MaxQueued = 2 })
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// MQTT 3.1.1 CONNECT (clean, no keepalive, client id "slow"), then
	// SUBSCRIBE agents/echo/slow/out at QoS 0; afterwards it never reads.
	connect := []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 4, 's', 'l', 'o', 'w'}
	topic := "agents/echo/slow/out"
	sub := append([]byte{0x82, byte(2 + 2 + len(topic) + 1), 0, 1, 0, byte(len(topic))}, topic...)
	sub = append(sub, 0)
	if _, err := conn.Write(append(connect, sub...)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 4)); err != nil { // CONNACK
		t.Fatal(err)
	}
	sink := f.sink(t, f.expect(t, "join").key)
	fillUntilSlow(t, sink)
	eventuallyMetrics(t, s, `outpost_agents_frames_dropped_total{transport="mqtt"}`)

	// Keep writing until the socket is full and the writer is stuck in
	// a write; shutdown must not hang on it.
	frame := bytes.Repeat([]byte{0x43}, 64<<10)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		if sink.Write(frame, true) != nil {
			time.Sleep(time.Millisecond)
		}
	}
	closed := make(chan struct{})
	go func() { closeGateway(t, s); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * wait):
		t.Fatal("Close hangs on a client that reads nothing")
	}
	f.expect(t, "leave")
}

// fillUntilSlow writes 64 KiB frames to a client that reads nothing until
// its queue is full and Write says wire.ErrSlowConsumer.
func fillUntilSlow(t *testing.T, sink wire.Sink) {
	t.Helper()
	frame := bytes.Repeat([]byte{0x42}, 64<<10)
	deadline := time.Now().Add(wait)
	for {
		err := sink.Write(frame, true)
		if errors.Is(err, wire.ErrSlowConsumer) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("queue never filled")
		}
	}
}

// TestRule7_5QoS1FrameResentOnResume: a QoS 1 agent frame the client did
// not acknowledge stays in its session and is sent again when the client
// resumes it, as any QoS 1 delivery.
func TestRule7_5QoS1FrameResentOnResume(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// MQTT 3.1.1 CONNECT (persistent session, client id "resend") and
	// SUBSCRIBE agents/echo/r/out at QoS 1.
	connect := []byte{0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 0, 0, 6, 'r', 'e', 's', 'e', 'n', 'd'}
	topic := "agents/echo/r/out"
	sub := append([]byte{0x82, byte(2 + 2 + len(topic) + 1), 0, 1, 0, byte(len(topic))}, topic...)
	sub = append(sub, 1)
	if _, err := conn.Write(append(connect, sub...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(conn, make([]byte, 4+5)); err != nil { // CONNACK, SUBACK
		t.Fatal(err)
	}
	key := f.expect(t, "join").key
	if err := f.sink(t, key).Write([]byte("again"), true); err != nil {
		t.Fatal(err)
	}
	pub := make([]byte, 2+2+len(topic)+2+len("again"))
	if _, err := io.ReadFull(conn, pub); err != nil {
		t.Fatal(err)
	}
	if pub[0] != 0x32 || !bytes.HasSuffix(pub, []byte("again")) {
		t.Fatalf("first delivery: % x", pub)
	}
	conn.Close() // no PUBACK
	f.expect(t, "leave")

	b := newInbox()
	dial(t, clientOpts(mqttURL(s), "resend").SetCleanSession(false).SetDefaultPublishHandler(b.handle))
	if m := b.waitFor(t, 1)[0]; m.Topic() != topic || string(m.Payload()) != "again" || m.Qos() != 1 {
		t.Fatalf("resent: %s %q qos %d", m.Topic(), m.Payload(), m.Qos())
	}
	f.expect(t, "join")
	// The PUBACK of the resent frame empties the session's inflight store
	// (mochi's global inflight gauge miscounts session takeovers, so the
	// client's own count is checked).
	deadline := time.Now().Add(wait)
	for {
		_, body := httpGet(t, http.DefaultClient, "http://"+s.HTTPAddr().String()+"/admin/clients", nil)
		var rows []struct {
			ID       string `json:"id"`
			Inflight int    `json:"inflight"`
		}
		if err := json.Unmarshal([]byte(body), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) == 1 && rows[0].ID == "resend" && rows[0].Inflight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRule7_3JoinOverMQTTWebSocket: clients of MQTT over WebSocket (/mqtt)
// join and receive agent frames like TCP clients.
func TestRule7_3JoinOverMQTTWebSocket(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	c := dial(t, clientOpts("ws://"+s.HTTPAddr().String()+"/mqtt", "ws-device").SetUsername("?codec=json"))
	in := newInbox()
	subscribe(t, c, "agents/echo/w/out", 1, in)
	e := f.expect(t, "join")
	if e.join.Options.Codec != wire.JSON || e.join.ID != "ws-device" {
		t.Fatalf("join: %+v", e.join)
	}
	if err := f.sink(t, e.key).Write([]byte(`{"type":"x"}`), false); err != nil {
		t.Fatal(err)
	}
	if m := in.waitFor(t, 1)[0]; string(m.Payload()) != `{"type":"x"}` || m.Qos() != 1 {
		t.Fatalf("frame: %q qos %d", m.Payload(), m.Qos())
	}
	publish(t, c, "agents/echo/w/in", 1, false, "up")
	if r := f.expect(t, "receive").recv; r.Key != e.key || string(r.Data) != "up" {
		t.Fatalf("receive: %+v", r)
	}
}

// TestRule7_3FramesFollowReloadedRules: each agent frame is checked against
// the rules loaded now, as any delivery: after a reload takes the agent
// away, its frames no longer reach the client.
func TestRule7_3FramesFollowReloadedRules(t *testing.T) {
	f := newFakeAgents()
	s, path := credsGatewayWith(t, false, f)
	dev := dial(t, clientOpts(mqttURL(s), "dev-client").SetUsername("dev").SetPassword("dev-pw"))
	in := newInbox()
	subscribe(t, dev, "agents/twin/dev/out", 0, in)
	key := f.expect(t, "join").key
	if err := f.sink(t, key).Write([]byte("before"), true); err != nil {
		t.Fatal(err)
	}
	in.waitFor(t, 1)
	writeCreds(t, path, func(af *auth.File) {
		setUser(t, af, "dev", "dev-pw", false, auth.Rule{Topic: "sensors/%c/#", Access: auth.AccessWrite})
	})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := f.sink(t, key).Write([]byte("after"), true); err != nil {
		t.Fatal(err)
	}
	in.none(t, 1)
}

// TestRule7_5ReceiveMaximum: QoS 1 agent frames respect the client's MQTT
// 5 Receive Maximum: a frame beyond it waits for a PUBACK.
func TestRule7_5ReceiveMaximum(t *testing.T) {
	f := newFakeAgents()
	s := agentGateway(t, f, nil)
	one := uint16(1)
	c, ack, err := connectV5With(t, s, &paho5.Connect{ClientID: "rm", CleanStart: true,
		Properties: &paho5.ConnectProperties{ReceiveMaximum: &one}},
		func(cfg *paho5.ClientConfig) { cfg.EnableManualAcknowledgment = true })
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v", err)
	}
	c.subscribe(t, "agents/echo/rm/out", 1)
	sink := f.sink(t, f.expect(t, "join").key)
	for _, p := range []string{"one", "two"} {
		if err := sink.Write([]byte(p), true); err != nil {
			t.Fatal(err)
		}
	}
	first := c.nextPublish(t)
	if string(first.Payload) != "one" {
		t.Fatalf("first frame %q", first.Payload)
	}
	select {
	case p := <-c.pubs:
		t.Fatalf("%q sent beyond the client's Receive Maximum", p.Payload)
	case <-time.After(300 * time.Millisecond):
	}
	if err := c.Ack(first); err != nil {
		t.Fatal(err)
	}
	if p := c.nextPublish(t); string(p.Payload) != "two" {
		t.Fatalf("second frame %q", p.Payload)
	}
}
