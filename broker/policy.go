package broker

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/outpost-iot/outpost/wire"
)

// Connection options an MQTT client may choose at CONNECT
// (docs/protocol.md rule 6.2): as MQTT 5 CONNECT user properties, or, in
// any MQTT version, as a query appended to the CONNECT username.
const (
	optCodec    = "codec"
	optProtocol = "protocol"
)

// mqttDefaults is an MQTT connection's policy when it chooses nothing: a
// binary device, CBOR frames, protocol frames off (rule 6.2).
var mqttDefaults = wire.Options{Codec: wire.CBOR, Protocol: false}

// optionError names the connection option that is wrong.
type optionError struct {
	option, value, problem string
}

func (e *optionError) Error() string {
	if e.value == "" && e.problem != "" {
		return fmt.Sprintf("connection option %q: %s", e.option, e.problem)
	}
	return fmt.Sprintf("connection option %s=%q: %s", e.option, e.value, e.problem)
}

// splitUsername separates the username an MQTT client authenticates with
// from the connection options it appended as a query:
// "alice?codec=json&protocol=true" is user "alice" with a query. A username
// without '?' has no query.
func splitUsername(raw string) (user, query string, hasQuery bool) {
	return strings.Cut(raw, "?")
}

// parseOptionQuery applies a username query to o. Keys are codec and
// protocol, each at most once; anything else is an error, so a typo is
// refused rather than silently ignored.
func parseOptionQuery(query string, o *wire.Options) error {
	if query == "" {
		return nil
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return &optionError{option: "username query", value: query, problem: "not a URL query (want codec=cbor|json&protocol=true|false)"}
	}
	for k, vs := range vals {
		if len(vs) != 1 {
			return &optionError{option: k, problem: "given more than once"}
		}
		if err := applyOption(k, vs[0], o); err != nil {
			return err
		}
	}
	return nil
}

// applyOption sets one option; unknown option names are an error.
func applyOption(key, val string, o *wire.Options) error {
	switch key {
	case optCodec:
		switch val {
		case wire.CBOR, wire.JSON:
			o.Codec = val
			return nil
		}
		return &optionError{option: key, value: val, problem: "want cbor or json"}
	case optProtocol:
		switch val {
		case "true":
			o.Protocol = true
			return nil
		case "false":
			o.Protocol = false
			return nil
		}
		return &optionError{option: key, value: val, problem: "want true or false"}
	}
	return &optionError{option: key, value: val, problem: "unknown option (want codec or protocol)"}
}

// mqttPolicy is an MQTT connection's policy and the MQTT 5 CONNECT user
// properties it was chosen from, fixed for the life of the connection.
type mqttPolicy struct {
	opts  wire.Options
	props map[string]string // nil when the client sent none
}

// connectPolicy derives the policy from a CONNECT: defaults, then the MQTT
// 5 user properties codec and protocol (other user properties are passed
// to agents untouched), then the username query, which wins where both
// name an option (rule 6.2).
func connectPolicy(username []byte, user []packets.UserProperty) (mqttPolicy, error) {
	p := mqttPolicy{opts: mqttDefaults}
	if len(user) > 0 {
		p.props = make(map[string]string, len(user))
	}
	for _, up := range user {
		p.props[up.Key] = up.Val // MQTT allows repeats; the last one counts
		if up.Key == optCodec || up.Key == optProtocol {
			if err := applyOption(up.Key, up.Val, &p.opts); err != nil {
				return p, err
			}
		}
	}
	if _, q, ok := splitUsername(string(username)); ok {
		if err := parseOptionQuery(q, &p.opts); err != nil {
			return p, err
		}
	}
	return p, nil
}
