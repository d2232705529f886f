package main

// MQTT 3.1.1 wire format for the lite client (mqttlite.go): the packets a
// clean-session QoS 0/1 client sends and receives, nothing else (no QoS 2
// flow, will, credentials, UNSUBSCRIBE or multi-filter SUBSCRIBE; a QoS 2
// PUBLISH can be encoded and decoded, the client refuses it).
//
// Decoding never panics and never allocates: a decoded packet's byte slices
// alias the input. Malformed input is an error, as is anything outside the
// supported subset. Topic names are not checked for valid UTF-8 (the brokers
// under test are trusted for that; the payload checks catch corruption).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Packet types (§2.2.1).
const (
	pktConnect    = 1
	pktConnack    = 2
	pktPublish    = 3
	pktPuback     = 4
	pktSubscribe  = 8
	pktSuback     = 9
	pktPingreq    = 12
	pktPingresp   = 13
	pktDisconnect = 14
)

const (
	// maxRemLen is the largest remaining length four bytes can encode
	// (§2.2.3).
	maxRemLen = 268_435_455
	// maxPacketLen caps the remaining length this client accepts, so a
	// corrupt length cannot make it allocate or wait for 256 MiB.
	maxPacketLen = 16 << 20
	// connFlagClean is the CONNECT flag for a clean session, the only one
	// supported.
	connFlagClean = 0x02
)

var (
	errRemLenTooLong = errors.New("mqtt: malformed remaining length (continues past 4 bytes)")
	errRemLenRange   = errors.New("mqtt: remaining length out of range")
	errTooLarge      = fmt.Errorf("mqtt: packet larger than %d bytes", maxPacketLen)
	errTruncated     = errors.New("mqtt: truncated packet")
	errStringLen     = errors.New("mqtt: string longer than 65535 bytes")
)

// packet is one decoded control packet. Which fields are meaningful depends
// on typ; the byte slices alias the decoder's input.
type packet struct {
	typ   byte   // packet type, 1..14
	flags byte   // low nibble of the first byte (PUBLISH: DUP, QoS, RETAIN)
	id    uint16 // packet identifier: PUBLISH (QoS > 0), PUBACK, SUBSCRIBE, SUBACK
	qos   byte   // PUBLISH: QoS from flags; SUBSCRIBE: requested QoS

	topic   []byte // PUBLISH topic name, SUBSCRIBE topic filter
	payload []byte // PUBLISH application message
	codes   []byte // SUBACK return codes

	clientID  []byte // CONNECT
	connFlags byte   // CONNECT flags (only connFlagClean is supported)
	keepAlive uint16 // CONNECT, seconds

	sessionPresent bool // CONNACK
	returnCode     byte // CONNACK
}

// appendRemLen appends n as an MQTT variable-length integer (§2.2.3).
func appendRemLen(dst []byte, n int) ([]byte, error) {
	if n < 0 || n > maxRemLen {
		return dst, errRemLenRange
	}
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			b |= 0x80
		}
		dst = append(dst, b)
		if n == 0 {
			return dst, nil
		}
	}
}

// decodeRemLen decodes a remaining length from the start of b and returns it
// and the number of bytes it took.
func decodeRemLen(b []byte) (v, n int, err error) {
	for i := range 4 {
		if i >= len(b) {
			return 0, 0, errTruncated
		}
		c := b[i]
		v |= int(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errRemLenTooLong
}

// readRemLen is decodeRemLen for a stream.
func readRemLen(r io.ByteReader) (int, error) {
	v := 0
	for i := range 4 {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		v |= int(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errRemLenTooLong
}

// appendString appends a length-prefixed UTF-8 string (§1.5.3).
func appendString[T string | []byte](dst []byte, s T) ([]byte, error) {
	if len(s) > 0xffff {
		return dst, errStringLen
	}
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...), nil
}

// appendPublishHeader appends a PUBLISH packet up to, not including, its
// payload of payloadLen bytes. id is ignored at QoS 0.
func appendPublishHeader[T string | []byte](dst []byte, topic T, qos byte, dup, retain bool, id uint16, payloadLen int) ([]byte, error) {
	if qos > 2 {
		return dst, fmt.Errorf("mqtt: PUBLISH QoS %d invalid", qos)
	}
	if len(topic) > 0xffff {
		return dst, errStringLen
	}
	first := byte(pktPublish<<4) | qos<<1
	if dup {
		first |= 0x08
	}
	if retain {
		first |= 0x01
	}
	n := 2 + len(topic) + payloadLen
	if qos > 0 {
		n += 2
	}
	dst = append(dst, first)
	dst, err := appendRemLen(dst, n)
	if err != nil {
		return dst, err
	}
	dst, _ = appendString(dst, topic)
	if qos > 0 {
		dst = append(dst, byte(id>>8), byte(id))
	}
	return dst, nil
}

// appendPuback appends a PUBACK for id.
func appendPuback(dst []byte, id uint16) []byte {
	return append(dst, pktPuback<<4, 2, byte(id>>8), byte(id))
}

// appendConnect appends a clean-session CONNECT (protocol level 4).
func appendConnect[T string | []byte](dst []byte, clientID T, keepAlive uint16) ([]byte, error) {
	if len(clientID) > 0xffff {
		return dst, errStringLen
	}
	dst = append(dst, pktConnect<<4)
	dst, _ = appendRemLen(dst, 10+2+len(clientID))
	dst = append(dst, 0, 4, 'M', 'Q', 'T', 'T', 4, connFlagClean, byte(keepAlive>>8), byte(keepAlive))
	return appendString(dst, clientID)
}

// appendSubscribe appends a SUBSCRIBE for one topic filter.
func appendSubscribe[T string | []byte](dst []byte, id uint16, filter T, qos byte) ([]byte, error) {
	if len(filter) > 0xffff {
		return dst, errStringLen
	}
	if qos > 2 {
		return dst, fmt.Errorf("mqtt: SUBSCRIBE QoS %d invalid", qos)
	}
	dst = append(dst, pktSubscribe<<4|0x02)
	dst, _ = appendRemLen(dst, 2+2+len(filter)+1)
	dst = append(dst, byte(id>>8), byte(id))
	dst, _ = appendString(dst, filter)
	return append(dst, qos), nil
}

// appendPacket appends p (any type the decoder accepts). It is the inverse
// of decodePacket; the client's hot path uses the helpers above directly.
func appendPacket(dst []byte, p *packet) ([]byte, error) {
	switch p.typ {
	case pktConnect:
		if p.connFlags != connFlagClean {
			return dst, fmt.Errorf("mqtt: CONNECT flags %#x not supported", p.connFlags)
		}
		return appendConnect(dst, p.clientID, p.keepAlive)
	case pktConnack:
		var f byte
		if p.sessionPresent {
			f = 1
		}
		return append(dst, pktConnack<<4, 2, f, p.returnCode), nil
	case pktPublish:
		dst, err := appendPublishHeader(dst, p.topic, p.qos, p.flags&0x08 != 0, p.flags&0x01 != 0, p.id, len(p.payload))
		if err != nil {
			return dst, err
		}
		return append(dst, p.payload...), nil
	case pktPuback:
		return appendPuback(dst, p.id), nil
	case pktSubscribe:
		return appendSubscribe(dst, p.id, p.topic, p.qos)
	case pktSuback:
		dst = append(dst, pktSuback<<4)
		dst, err := appendRemLen(dst, 2+len(p.codes))
		if err != nil {
			return dst, err
		}
		dst = append(dst, byte(p.id>>8), byte(p.id))
		return append(dst, p.codes...), nil
	case pktPingreq, pktPingresp, pktDisconnect:
		return append(dst, p.typ<<4, 0), nil
	}
	return dst, fmt.Errorf("mqtt: packet type %d not supported", p.typ)
}

// decodeBytes decodes the first packet in buf and returns it and its total
// length.
func decodeBytes(buf []byte) (p packet, n int, err error) {
	if len(buf) < 2 {
		return p, 0, errTruncated
	}
	rl, k, err := decodeRemLen(buf[1:])
	if err != nil {
		return p, 0, err
	}
	if rl > maxPacketLen {
		return p, 0, errTooLarge
	}
	n = 1 + k + rl
	if len(buf) < n {
		return p, 0, errTruncated
	}
	p, err = decodePacket(buf[0], buf[1+k:n])
	return p, n, err
}

// decodePacket decodes one packet from its first byte and its body (the
// remaining-length bytes that follow the fixed header).
func decodePacket(first byte, body []byte) (p packet, err error) {
	p.typ, p.flags = first>>4, first&0x0f
	wantFlags := byte(0)
	switch p.typ {
	case pktPublish:
		wantFlags = p.flags // checked below
	case pktSubscribe:
		wantFlags = 0x02
	}
	if p.flags != wantFlags {
		return p, fmt.Errorf("mqtt: packet type %d with invalid flags %#x", p.typ, p.flags)
	}
	switch p.typ {
	case pktConnect:
		return p, decodeConnect(&p, body)
	case pktConnack:
		if len(body) != 2 {
			return p, fmt.Errorf("mqtt: CONNACK of %d bytes", len(body))
		}
		if body[0]&^1 != 0 {
			return p, errors.New("mqtt: CONNACK with reserved flags set")
		}
		p.sessionPresent, p.returnCode = body[0] == 1, body[1]
		return p, nil
	case pktPublish:
		p.qos = p.flags >> 1 & 3
		switch {
		case p.qos == 3:
			return p, errors.New("mqtt: PUBLISH with QoS 3")
		case p.qos == 0 && p.flags&0x08 != 0:
			return p, errors.New("mqtt: PUBLISH QoS 0 with DUP set")
		}
		if p.topic, body, err = cutString(body); err != nil {
			return p, err
		}
		if len(p.topic) == 0 || bytes.IndexByte(p.topic, '+') >= 0 || bytes.IndexByte(p.topic, '#') >= 0 {
			return p, fmt.Errorf("mqtt: invalid PUBLISH topic %q", p.topic)
		}
		if p.qos > 0 {
			if p.id, body, err = cutID(body); err != nil {
				return p, err
			}
		}
		p.payload = body
		return p, nil
	case pktPuback:
		if len(body) != 2 {
			return p, fmt.Errorf("mqtt: PUBACK of %d bytes", len(body))
		}
		p.id, _, err = cutID(body)
		return p, err
	case pktSubscribe:
		if p.id, body, err = cutID(body); err != nil {
			return p, err
		}
		if p.topic, body, err = cutString(body); err != nil {
			return p, err
		}
		if len(p.topic) == 0 {
			return p, errors.New("mqtt: empty SUBSCRIBE topic filter")
		}
		switch {
		case len(body) == 0:
			return p, errTruncated
		case len(body) > 1:
			return p, errors.New("mqtt: SUBSCRIBE with several filters not supported")
		case body[0] > 2:
			return p, fmt.Errorf("mqtt: SUBSCRIBE invalid QoS byte %#x", body[0])
		}
		p.qos = body[0]
		return p, nil
	case pktSuback:
		if p.id, body, err = cutID(body); err != nil {
			return p, err
		}
		if len(body) == 0 {
			return p, errTruncated
		}
		for _, c := range body {
			if c > 2 && c != 0x80 {
				return p, fmt.Errorf("mqtt: SUBACK invalid return code %#x", c)
			}
		}
		p.codes = body
		return p, nil
	case pktPingreq, pktPingresp, pktDisconnect:
		if len(body) != 0 {
			return p, fmt.Errorf("mqtt: packet type %d with %d bytes of body", p.typ, len(body))
		}
		return p, nil
	}
	return p, fmt.Errorf("mqtt: packet type %d not supported", p.typ)
}

func decodeConnect(p *packet, body []byte) error {
	name, body, err := cutString(body)
	if err != nil {
		return err
	}
	if string(name) != "MQTT" {
		return fmt.Errorf("mqtt: CONNECT protocol name %q", name)
	}
	if len(body) < 4 {
		return errTruncated
	}
	if body[0] != 4 {
		return fmt.Errorf("mqtt: CONNECT protocol level %d", body[0])
	}
	p.connFlags = body[1]
	if p.connFlags != connFlagClean {
		return fmt.Errorf("mqtt: CONNECT flags %#x not supported", p.connFlags)
	}
	p.keepAlive = uint16(body[2])<<8 | uint16(body[3])
	if p.clientID, body, err = cutString(body[4:]); err != nil {
		return err
	}
	if len(body) != 0 {
		return errors.New("mqtt: CONNECT with trailing bytes")
	}
	return nil
}

// cutString splits a length-prefixed string off b.
func cutString(b []byte) (s, rest []byte, err error) {
	if len(b) < 2 {
		return nil, b, errTruncated
	}
	n := int(b[0])<<8 | int(b[1])
	if len(b)-2 < n {
		return nil, b, errTruncated
	}
	return b[2 : 2+n], b[2+n:], nil
}

// cutID splits a non-zero packet identifier off b (§2.3.1).
func cutID(b []byte) (id uint16, rest []byte, err error) {
	if len(b) < 2 {
		return 0, b, errTruncated
	}
	id = uint16(b[0])<<8 | uint16(b[1])
	if id == 0 {
		return 0, b, errors.New("mqtt: packet identifier 0")
	}
	return id, b[2:], nil
}
