package main

// MQTT client connections for the load generator.
//
// Library choice: github.com/eclipse/paho.mqtt.golang (MQTT 3.1.1), with the
// TCP connection's read side wrapped in a bufio.Reader. The load generator
// shares the CPUs with the brokers, so the cheaper client wins. Measured
// against Mosquitto 2.0.11 on the 2-core dev box: harness CPU time per
// delivered message, 200k messages, QoS 1 publishers with 16 in flight
// ("buf" = reads through bufio):
//
//	                         paho.golang/paho     paho.mqtt.golang
//	QoS 0, 1 pub -> 8 subs    14.7 us (buf  9.3)   12.0 us (buf  7.4)
//	QoS 1, 1 pub -> 8 subs    31.9 us              28.7 us (buf 22.9)
//	QoS 1, 4 pub -> 1 sub     69.3 us              49.4 us (buf 40.7)
//	QoS 0, 4 pub -> 1 sub     15-25 us, too noisy to rank (the broker drops)
//
// paho.golang's client costs a goroutine, two contexts and a serialised copy
// of the packet (session store) per QoS 1 publish, and needs one blocking
// Publish call (goroutine) per in-flight message; paho.mqtt.golang returns a
// token per publish, which makes a per-publisher window cheap. Both read
// packets with several small reads, which the bufio wrapper batches.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// bufConn buffers reads; writes go straight to the socket (each packet is
// written with one call, so the latency of every message is measured as is).
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

const connectTimeout = 5 * time.Second

// connect opens one clean-session MQTT 3.1.1 connection to addr. onLost is
// called (from another goroutine) if the connection drops unexpectedly.
func connect(ctx context.Context, addr, clientID string, onLost func(error)) (mqtt.Client, error) {
	o := mqtt.NewClientOptions()
	o.AddBroker("tcp://" + addr)
	o.SetClientID(clientID)
	o.SetProtocolVersion(4)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetResumeSubs(false)
	o.SetKeepAlive(60 * time.Second)
	o.SetPingTimeout(20 * time.Second)
	o.SetConnectTimeout(connectTimeout)
	o.SetOrderMatters(true) // message callbacks run in order on one goroutine per client
	o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		d := net.Dialer{Timeout: connectTimeout}
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10)}, nil
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		if onLost != nil {
			onLost(err)
		}
	})
	c := mqtt.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(connectTimeout + time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s as %s: timeout", addr, clientID)
	}
	if err := t.Error(); err != nil {
		return nil, fmt.Errorf("connect %s as %s: %w", addr, clientID, err)
	}
	return c, nil
}

// subscribe subscribes and waits for the SUBACK.
func subscribe(c mqtt.Client, filter string, qos byte, h mqtt.MessageHandler) error {
	t := c.Subscribe(filter, qos, h)
	if !t.WaitTimeout(connectTimeout) {
		return fmt.Errorf("subscribe %s: timeout", filter)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	if st, ok := t.(*mqtt.SubscribeToken); ok {
		for _, code := range st.Result() {
			if code == 0x80 {
				return errors.New("subscribe " + filter + ": refused by broker")
			}
		}
	}
	return nil
}

// probeSysVersion reads the retained $SYS/broker/version topic (Mosquitto
// publishes it); empty if the broker does not answer within a second.
func probeSysVersion(ctx context.Context, addr string) string {
	c, err := connect(ctx, addr, fmt.Sprintf("brokerbench-probe-%d", time.Now().UnixNano()), nil)
	if err != nil {
		return ""
	}
	defer c.Disconnect(0)
	got := make(chan string, 1)
	if err := subscribe(c, "$SYS/broker/version", 0, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- string(m.Payload()):
		default:
		}
	}); err != nil {
		return ""
	}
	select {
	case v := <-got:
		return v
	case <-time.After(time.Second):
		return ""
	}
}
