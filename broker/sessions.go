package broker

import (
	"sync"

	"github.com/cockroachdb/pebble"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	pebblehook "github.com/mochi-mqtt/server/v2/hooks/storage/pebble"
	"github.com/mochi-mqtt/server/v2/packets"
)

// sessionStore persists what must survive a restart: persistent sessions
// (their subscriptions and the QoS 1/2 messages queued for them) and
// retained messages, in {data-dir}/broker/sessions.
//
// Why mochi's pebble hook in NoSync mode: of mochi's on-disk hooks, bolt
// fsyncs every transaction (a synchronous disk write on the publish path)
// and badger keeps a value log that needs periodic garbage collection;
// pebble appends to a write-ahead log without fsync and flushes in the
// background, which is what Mosquitto's periodic autosave buys too: cheap
// writes that survive a process crash, and at most the last moments lost on
// power failure. Pebble is LSM-based, so the steady churn of inflight
// messages (write, then delete on PUBACK) compacts away.
//
// This wrapper keeps clean sessions off the disk altogether: mochi's hook
// would write and delete a record for every QoS 1/2 message to every
// subscriber, although a clean session cannot be restored anyway. The
// decision is made per client id when its session starts and kept until
// the session ends, so a session that was persistent when a message was
// queued is also cleaned up when it ends.
type sessionStore struct {
	*pebblehook.Hook
	persistent sync.Map // client id -> struct{}, for sessions that are stored
}

func newSessionStore() *sessionStore { return &sessionStore{Hook: new(pebblehook.Hook)} }

func sessionStoreOptions(dir string) *pebblehook.Options {
	return &pebblehook.Options{Path: dir, Mode: pebblehook.NoSync, Options: &pebble.Options{}}
}

func (h *sessionStore) ID() string { return "outpost-sessions" }

// Provides drops mochi's $SYS snapshot, which would be a disk write every
// $SYS tick for numbers that are reset at start anyway.
func (h *sessionStore) Provides(b byte) bool {
	if b == mqtt.OnSysInfoTick || b == mqtt.StoredSysInfo {
		return false
	}
	return h.Hook.Provides(b)
}

// persistentSession is MQTT's rule for whether a session outlives its
// connection [MQTT-3.1.2-5] [MQTT-3.1.2-23].
func persistentSession(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

func (h *sessionStore) stored(cl *mqtt.Client) bool {
	if _, ok := h.persistent.Load(cl.ID); ok {
		return true
	}
	return cl.Net.Conn == nil && !cl.Net.Inline && persistentSession(cl) // restored from disk
}

func (h *sessionStore) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if persistentSession(cl) {
		h.persistent.Store(cl.ID, struct{}{})
		h.Hook.OnSessionEstablished(cl, pk)
		return
	}
	if _, was := h.persistent.LoadAndDelete(cl.ID); was {
		// A clean session replaced a stored one: forget its record.
		h.Hook.OnClientExpired(cl)
	}
}

func (h *sessionStore) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if !h.stored(cl) {
		return
	}
	h.Hook.OnDisconnect(cl, err, expire)
	if expire {
		h.persistent.Delete(cl.ID)
	}
}

func (h *sessionStore) OnClientExpired(cl *mqtt.Client) {
	h.persistent.Delete(cl.ID)
	h.Hook.OnClientExpired(cl)
}

func (h *sessionStore) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if h.stored(cl) {
		h.Hook.OnWillSent(cl, pk)
	}
}

// OnSubscribed stores the granted subscriptions only: mochi's hook would
// also store refused ones (an ACL refusal, an unknown agent class), and
// restore them after a restart.
func (h *sessionStore) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if !h.stored(cl) {
		return
	}
	var granted packets.Subscriptions
	var grantedCodes []byte
	for i, sub := range pk.Filters {
		if i < len(codes) && codes[i] < packets.ErrUnspecifiedError.Code {
			granted = append(granted, sub)
			grantedCodes = append(grantedCodes, codes[i])
		}
	}
	if len(granted) > 0 {
		pk.Filters = granted
		h.Hook.OnSubscribed(cl, pk, grantedCodes)
	}
}

func (h *sessionStore) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if h.stored(cl) {
		h.Hook.OnUnsubscribed(cl, pk)
	}
}

func (h *sessionStore) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if h.stored(cl) {
		h.Hook.OnQosPublish(cl, pk, sent, resends)
	}
}

func (h *sessionStore) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if h.stored(cl) {
		h.Hook.OnQosComplete(cl, pk)
	}
}

func (h *sessionStore) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if h.stored(cl) {
		h.Hook.OnQosDropped(cl, pk)
	}
}

// StoredClients loads persisted sessions and notes their ids as stored.
func (h *sessionStore) StoredClients() ([]storage.Client, error) {
	v, err := h.Hook.StoredClients()
	for _, c := range v {
		h.persistent.Store(c.ID, struct{}{})
	}
	return v, err
}
