package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRemLenEdges(t *testing.T) {
	for _, c := range []struct {
		v   int
		enc []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{2097151, []byte{0xff, 0xff, 0x7f}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}},
		{268435455, []byte{0xff, 0xff, 0xff, 0x7f}},
	} {
		got, err := appendRemLen(nil, c.v)
		if err != nil || !bytes.Equal(got, c.enc) {
			t.Errorf("appendRemLen(%d) = %x, %v; want %x", c.v, got, err, c.enc)
		}
		v, n, err := decodeRemLen(append(c.enc, 0xAA))
		if err != nil || v != c.v || n != len(c.enc) {
			t.Errorf("decodeRemLen(%x) = %d, %d, %v; want %d, %d", c.enc, v, n, err, c.v, len(c.enc))
		}
		v, err = readRemLen(bytes.NewReader(c.enc))
		if err != nil || v != c.v {
			t.Errorf("readRemLen(%x) = %d, %v; want %d", c.enc, v, err, c.v)
		}
	}
	for _, v := range []int{-1, 268435456} {
		if _, err := appendRemLen(nil, v); err == nil {
			t.Errorf("appendRemLen(%d) accepted", v)
		}
	}
	five := []byte{0xff, 0xff, 0xff, 0xff, 0x01}
	if _, _, err := decodeRemLen(five); !errors.Is(err, errRemLenTooLong) {
		t.Errorf("decodeRemLen(5 bytes) err = %v", err)
	}
	if _, err := readRemLen(bytes.NewReader(five)); !errors.Is(err, errRemLenTooLong) {
		t.Errorf("readRemLen(5 bytes) err = %v", err)
	}
	if _, err := decode(append([]byte{pktPublish << 4}, five...)); !errors.Is(err, errRemLenTooLong) {
		t.Errorf("decode(5-byte length) err = %v", err)
	}
	if _, _, err := decodeRemLen([]byte{0x80, 0x80}); !errors.Is(err, errTruncated) {
		t.Errorf("decodeRemLen(truncated) err = %v", err)
	}
	if _, err := readRemLen(bytes.NewReader([]byte{0x80})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("readRemLen(truncated) err = %v", err)
	}
	// A valid length above the cap is refused before anything is read or
	// allocated.
	big, _ := appendRemLen([]byte{pktPublish << 4}, maxPacketLen+1)
	if _, err := decode(big); !errors.Is(err, errTooLarge) {
		t.Errorf("decode(16 MiB + 1) err = %v", err)
	}
	c := &liteConn{r: bufio.NewReaderSize(bytes.NewReader(big), liteBufSize)}
	if _, _, _, err := c.readPacket(); !errors.Is(err, errTooLarge) {
		t.Errorf("readPacket(16 MiB + 1) err = %v", err)
	}
}

func decode(b []byte) (packet, error) {
	p, _, err := decodeBytes(b)
	return p, err
}

func samplePackets() []packet {
	return []packet{
		{typ: pktConnect, connFlags: connFlagClean, keepAlive: 60, clientID: []byte("bb1-outpost-fanin-qos1-1KiB-r0-s0")},
		{typ: pktConnect, connFlags: connFlagClean, clientID: []byte{}},
		{typ: pktConnack},
		{typ: pktConnack, sessionPresent: true, returnCode: 5},
		{typ: pktPublish, topic: []byte("bench/in/3"), payload: bytes.Repeat([]byte{7}, 64)},
		{typ: pktPublish, flags: 0x02, qos: 1, id: 1, topic: []byte("a"), payload: []byte{}},
		{typ: pktPublish, flags: 0x0b, qos: 1, id: 65535, topic: []byte("bench/out"), payload: bytes.Repeat([]byte{1}, 1024)},
		{typ: pktPublish, flags: 0x01, topic: []byte("$SYS/broker/version"), payload: []byte("mosquitto version 2.0.11")},
		{typ: pktPublish, topic: []byte("big"), payload: make([]byte, 40<<10)}, // larger than the read buffer
		{typ: pktPuback, id: 1},
		{typ: pktPuback, id: 0xabcd},
		{typ: pktSubscribe, flags: 0x02, id: 1, topic: []byte("bench/in/+"), qos: 1},
		{typ: pktSubscribe, flags: 0x02, id: 9, topic: []byte("#"), qos: 0},
		{typ: pktSuback, id: 1, codes: []byte{1}},
		{typ: pktSuback, id: 2, codes: []byte{0x80, 0, 2}},
		{typ: pktPingreq},
		{typ: pktPingresp},
		{typ: pktDisconnect},
	}
}

func packetsEqual(a, b packet) bool {
	return a.typ == b.typ && a.flags == b.flags && a.id == b.id && a.qos == b.qos &&
		bytes.Equal(a.topic, b.topic) && bytes.Equal(a.payload, b.payload) && bytes.Equal(a.codes, b.codes) &&
		bytes.Equal(a.clientID, b.clientID) && a.connFlags == b.connFlags && a.keepAlive == b.keepAlive &&
		a.sessionPresent == b.sessionPresent && a.returnCode == b.returnCode
}

func TestPacketRoundTrip(t *testing.T) {
	var stream []byte
	pkts := samplePackets()
	for _, p := range pkts {
		b, err := appendPacket(nil, &p)
		if err != nil {
			t.Fatalf("encode %+v: %v", p, err)
		}
		got, n, err := decodeBytes(b)
		if err != nil || n != len(b) || !packetsEqual(got, p) {
			t.Errorf("type %d: decode(encode) = %+v, %d, %v; want %+v, %d", p.typ, got, n, err, p, len(b))
		}
		stream = append(stream, b...)
	}
	// The same packets through the connection's stream reader.
	c := &liteConn{r: bufio.NewReaderSize(bytes.NewReader(stream), liteBufSize)}
	for i, want := range pkts {
		first, body, n, err := c.readPacket()
		if err != nil {
			t.Fatalf("readPacket #%d: %v", i, err)
		}
		got, err := decodePacket(first, body)
		if err != nil || !packetsEqual(got, want) {
			t.Errorf("readPacket #%d = %+v, %v; want %+v", i, got, err, want)
		}
		c.r.Discard(n)
	}
	if _, _, _, err := c.readPacket(); err != io.EOF {
		t.Errorf("after the last packet: %v, want EOF", err)
	}
}

func TestEncodeExact(t *testing.T) {
	b, _ := appendConnect(nil, "c1", 60)
	want := []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'c', '1'}
	if !bytes.Equal(b, want) {
		t.Errorf("CONNECT = %x, want %x", b, want)
	}
	b, _ = appendSubscribe(nil, 1, "a/+", 1)
	want = []byte{0x82, 8, 0, 1, 0, 3, 'a', '/', '+', 1}
	if !bytes.Equal(b, want) {
		t.Errorf("SUBSCRIBE = %x, want %x", b, want)
	}
	b, _ = appendPublishHeader(nil, "t", 1, false, false, 0x0102, 3)
	want = []byte{0x32, 8, 0, 1, 't', 1, 2}
	if !bytes.Equal(b, want) {
		t.Errorf("PUBLISH header = %x, want %x", b, want)
	}
	if b := appendPuback(nil, 0x0304); !bytes.Equal(b, []byte{0x40, 2, 3, 4}) {
		t.Errorf("PUBACK = %x", b)
	}
	if _, err := appendPublishHeader(nil, strings.Repeat("x", 70000), 0, false, false, 0, 0); err == nil {
		t.Error("topic longer than 65535 accepted")
	}
	if _, err := appendPublishHeader(nil, "t", 3, false, false, 1, 0); err == nil {
		t.Error("QoS 3 PUBLISH accepted")
	}
	if _, err := appendPublishHeader(nil, "t", 0, false, false, 0, maxRemLen); err == nil {
		t.Error("PUBLISH longer than the remaining length limit accepted")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":                 {},
		"reserved type 0":       {0x00, 0},
		"reserved type 15":      {0xf0, 0},
		"PUBREC (unsupported)":  {0x50, 2, 0, 1},
		"CONNACK flags":         {0x21, 2, 0, 0},
		"CONNACK length":        {0x20, 3, 0, 0, 0},
		"CONNACK reserved bits": {0x20, 2, 2, 0},
		"PUBLISH QoS 3":         {0x36, 3, 0, 1, 't'},
		"PUBLISH QoS 0 DUP":     {0x38, 3, 0, 1, 't'},
		"PUBLISH id 0":          {0x32, 5, 0, 1, 't', 0, 0},
		"PUBLISH empty topic":   {0x30, 2, 0, 0},
		"PUBLISH wildcard":      {0x30, 3, 0, 1, '#'},
		"PUBLISH topic overrun": {0x30, 3, 0, 5, 't'},
		"PUBLISH no id":         {0x32, 3, 0, 1, 't'},
		"PUBACK short":          {0x40, 1, 0},
		"PUBACK id 0":           {0x40, 2, 0, 0},
		"SUBSCRIBE flags":       {0x80, 6, 0, 1, 0, 1, 't', 0},
		"SUBSCRIBE QoS":         {0x82, 6, 0, 1, 0, 1, 't', 3},
		"SUBSCRIBE no QoS":      {0x82, 5, 0, 1, 0, 1, 't'},
		"SUBACK no codes":       {0x90, 2, 0, 1},
		"SUBACK bad code":       {0x90, 3, 0, 1, 3},
		"PINGRESP with body":    {0xd0, 1, 0},
		"truncated body":        {0x40, 2, 0},
		"CONNECT level 3":       {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 3, 2, 0, 60, 0, 0},
		"CONNECT will flag":     {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 6, 0, 60, 0, 0},
		"CONNECT trailing":      {0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0, 0},
	} {
		if p, err := decode(b); err == nil {
			t.Errorf("%s: %x decoded as %+v", name, b, p)
		}
	}
}

func TestCodecAllocs(t *testing.T) {
	payload := make([]byte, 1024)
	hdr := make([]byte, 0, 64)
	buf, _ := appendPacket(nil, &packet{typ: pktPublish, flags: 0x02, qos: 1, id: 7, topic: []byte("bench/in/1"), payload: payload})
	n := testing.AllocsPerRun(100, func() {
		hdr, _ = appendPublishHeader(hdr[:0], "bench/in/1", 1, false, false, 7, len(payload))
		hdr = appendPuback(hdr, 7)
		if _, err := decode(buf); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("encode/decode allocates %v times", n)
	}
}

// FuzzDecodePacket: arbitrary input must not panic, and whatever decodes
// must survive encode -> decode unchanged; the stream reader must agree with
// the slice decoder.
func FuzzDecodePacket(f *testing.F) {
	for _, p := range samplePackets() {
		if p.typ == pktPublish && len(p.payload) > 2000 {
			continue
		}
		b, _ := appendPacket(nil, &p)
		f.Add(b)
	}
	for _, b := range [][]byte{
		{}, {0x30}, {0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, {0x30, 0xff, 0xff, 0xff, 0x7f},
		{0x32, 5, 0, 1, 't', 0, 0}, {0x90, 3, 0, 1, 0x80}, {0x20, 2, 0, 0, 0xd0, 0},
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, n, err := decodeBytes(data)

		c := &liteConn{r: bufio.NewReaderSize(bytes.NewReader(data), 16)} // small: exercise the scratch path
		first, body, _, rerr := c.readPacket()
		if rerr == nil {
			var q packet
			q, rerr = decodePacket(first, body)
			if rerr == nil && (err != nil || !packetsEqual(p, q)) {
				t.Fatalf("stream decoded %+v, slice decoder %+v, %v", q, p, err)
			}
		}
		if err != nil {
			return
		}
		if n < 2 || n > len(data) {
			t.Fatalf("decoded length %d of %d bytes", n, len(data))
		}
		enc, err := appendPacket(nil, &p)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		p2, n2, err := decodeBytes(enc)
		if err != nil || n2 != len(enc) || !packetsEqual(p, p2) {
			t.Fatalf("round trip: %+v -> %x -> %+v, %v", p, enc, p2, err)
		}
		// Encoding is canonical: it differs from the input at most in a
		// non-minimal remaining length.
		if len(enc) > n {
			t.Fatalf("re-encoding is longer (%d) than the input (%d)", len(enc), n)
		}
	})
}
