package broker_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/outpost-iot/outpost/broker"
)

// v5Client is an MQTT 5 client (paho.golang) whose received messages land
// in an inbox, and, with their properties, in pubs.
type v5Client struct {
	*paho5.Client
	in   *inbox
	pubs chan *paho5.Publish
	disc chan *paho5.Disconnect // DISCONNECTs from the server
}

func dialV5(t *testing.T, s *broker.Server, id string, clean bool, expiry uint32) *v5Client {
	t.Helper()
	c, ack, err := connectV5(t, s, &paho5.Connect{
		ClientID: id, CleanStart: clean, KeepAlive: 30,
		Properties: &paho5.ConnectProperties{SessionExpiryInterval: &expiry},
	})
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	if ack.ReasonCode != 0 {
		t.Fatalf("connect %s: reason %#x", id, ack.ReasonCode)
	}
	return c
}

// connectV5 sends cp and returns the client, which is disconnected at the
// end of the test, and the CONNACK.
func connectV5(t *testing.T, s *broker.Server, cp *paho5.Connect) (*v5Client, *paho5.Connack, error) {
	t.Helper()
	return connectV5With(t, s, cp, nil)
}

// connectV5With is connectV5 with a chance to change the client's config.
func connectV5With(t *testing.T, s *broker.Server, cp *paho5.Connect, mutate func(*paho5.ClientConfig)) (*v5Client, *paho5.Connack, error) {
	t.Helper()
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	v := &v5Client{in: newInbox(), pubs: make(chan *paho5.Publish, 1024), disc: make(chan *paho5.Disconnect, 1)}
	cfg := paho5.ClientConfig{
		ClientID: cp.ClientID,
		Conn:     conn,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			v.in.add(pr.Packet.Topic, pr.Packet.Payload)
			v.pubs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho5.Disconnect) { v.disc <- d },
		OnClientError:      func(error) {},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	v.Client = paho5.NewClient(cfg)
	if cp.Properties == nil {
		cp.Properties = &paho5.ConnectProperties{}
	}
	cp.Properties.RequestProblemInfo = true // paho.golang's zero value asks for no reason strings
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ack, err := v.Connect(ctx, cp)
	if err == nil {
		t.Cleanup(func() { _ = v.Disconnect(&paho5.Disconnect{}) })
	}
	return v, ack, err
}

func (c *v5Client) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: filter, QoS: qos}}}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
}

func (c *v5Client) publish(t *testing.T, topic string, qos byte, payload string) *paho5.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	r, err := c.Publish(ctx, &paho5.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
	if err != nil && r == nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	return r
}

// TestMQTT5SessionExpiryAcrossRestart: an MQTT 5 session with a session
// expiry interval is persistent (its subscriptions and queued QoS 1
// messages survive a restart); one with expiry 0 is not.
func TestMQTT5SessionExpiryAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := startGateway(t, dir, nil)
	keep := dialV5(t, s1, "v5-keep", true, 3600)
	keep.subscribe(t, "v5/#", 1)
	gone := dialV5(t, s1, "v5-gone", true, 0)
	gone.subscribe(t, "v5/#", 1)
	keep.Disconnect(&paho5.Disconnect{})
	gone.Disconnect(&paho5.Disconnect{})

	pub := dialV5(t, s1, "v5-pub", true, 0)
	for i := 0; i < 3; i++ {
		pub.publish(t, fmt.Sprintf("v5/%d", i), 1, fmt.Sprintf("queued-%d", i))
	}
	pub.Disconnect(&paho5.Disconnect{})
	time.Sleep(100 * time.Millisecond) // let the client goroutines finish before the broker closes
	closeGateway(t, s1)

	s2 := startGateway(t, dir, nil)
	back := dialV5(t, s2, "v5-keep", false, 3600)
	if got := back.in.waitFor(t, 3); len(got) != 3 {
		t.Fatalf("got %d messages", len(got))
	}
	back.in.none(t, 3)
	again := dialV5(t, s2, "v5-gone", false, 0)
	again.in.none(t, 0)
}

// TestMQTT5DeniedPublishGetsReasonCode: MQTT 5 QoS 1 publishes outside the
// rules are answered with PUBACK 0x87 and the connection stays open.
func TestMQTT5DeniedPublishGetsReasonCode(t *testing.T) {
	s, _ := credsGateway(t, true)
	c := dialV5(t, s, "anon-v5", true, 0)
	r := c.publish(t, "private/x", 1, "nope")
	if r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("denied publish: %+v", r)
	}
	c.subscribe(t, "public/#", 1)
	if r := c.publish(t, "private/y", 1, "again"); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("second denied publish: %+v", r)
	}
}
