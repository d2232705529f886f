package chat

import (
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// Resume frames (../shared/notes/agents-sdk.md §10.1, §10.5).
const (
	TypeStreamResuming = "cf_agent_stream_resuming"
	TypeResumeRequest  = "cf_agent_stream_resume_request"
	TypeResumeAck      = "cf_agent_stream_resume_ack"
	TypeResumeNone     = "cf_agent_stream_resume_none"
	TypeStreamPending  = "cf_agent_stream_pending"
)

// missedTurn is a finished continuation its requester has not seen.
type missedTurn struct{ requestID, streamID string }

// setMissed records (or, with an empty request id, forgets) the
// continuation that connection key missed.
func setMissed(k liveKey, key string, m missedTurn) {
	live.Lock()
	defer live.Unlock()
	if m.requestID == "" {
		delete(live.missed[k], key)
		if len(live.missed[k]) == 0 {
			delete(live.missed, k)
		}
		return
	}
	if live.missed[k] == nil {
		live.missed[k] = map[string]missedTurn{}
	}
	live.missed[k][key] = m
}

func missedBy(k liveKey, key string) (missedTurn, bool) {
	live.Lock()
	defer live.Unlock()
	m, ok := live.missed[k][key]
	return m, ok
}

// replayFrame is a stored chunk (index seq) sent again on a resume.
func replayFrame(requestID string, seq int, chunk map[string]any, continuation bool) wire.Frame {
	f := chunkFrame(requestID, chunk)
	v := f.Value.(map[string]any)
	v["replay"], v["seq"] = true, int64(seq)
	if continuation {
		v["continuation"] = true
	}
	return f
}

// offerResume tells c that a reply is streaming; c gets no live chunks
// until it acknowledges (resumeAck). probeID, when not empty, is the
// client's resume request's probeId, echoed.
func (t *turn) offerResume(c wire.Conn, probeID string) error {
	t.pending[c.Key()] = true
	f := map[string]any{"type": TypeStreamResuming, "id": t.requestID}
	if probeID != "" {
		f["probeId"] = probeID
	}
	return c.Send(wire.Frame{Kind: wire.Chat, Value: f})
}

// resumeRequest answers a client that asks whether a reply is streaming:
// cf_agent_stream_resuming; cf_agent_stream_pending when a continuation
// waits for the reply that streams (the client keeps waiting, and is told
// resuming when the continuation starts, as the SDK does since #1784); or
// cf_agent_stream_resume_none (with the client's probeId, as the SDK
// since ai-chat 0.1.8 does), so that the client stops waiting at once.
func (a *Agent) resumeRequest(ctx *agenthost.Context, c wire.Conn, probeID string) error {
	if t := liveTurn(ctx); t != nil {
		if len(t.queue) > 0 && t.queue[0].continuation && t.queue[0].key() == c.Key() {
			t.queue[0].awaiting = append(t.queue[0].awaiting, c)
			f := map[string]any{"type": TypeStreamPending, "id": t.queue[0].req.ID}
			if probeID != "" {
				f["probeId"] = probeID
			}
			return c.Send(wire.Frame{Kind: wire.Chat, Value: f})
		}
		return t.offerResume(c, probeID)
	}
	if m, ok := missedBy(keyOf(ctx), c.Key()); ok {
		f := map[string]any{"type": TypeStreamResuming, "id": m.requestID}
		if probeID != "" {
			f["probeId"] = probeID
		}
		return c.Send(wire.Frame{Kind: wire.Chat, Value: f})
	}
	f := map[string]any{"type": TypeResumeNone}
	if probeID != "" {
		f["probeId"] = probeID
	}
	return c.Send(wire.Frame{Kind: wire.Chat, Value: f})
}

// resumeAck replays the stored chunks of the streaming turn to c, flagged
// replay: true; the live chunks follow, each exactly once, because storing
// and broadcasting a chunk is one event of the agent.
func (a *Agent) resumeAck(ctx *agenthost.Context, c wire.Conn, id string) error {
	t := liveTurn(ctx)
	if m, ok := missedBy(keyOf(ctx), c.Key()); ok && m.requestID == id && (t == nil || t.requestID != id) {
		return replayMissed(ctx, c, m)
	}
	if t == nil || t.requestID != id || !t.pending[c.Key()] {
		return nil
	}
	delete(t.pending, c.Key())
	if t.continuation && c.Key() == t.requester {
		t.attached = true
	}
	chunks, err := streamChunks(ctx, t.streamID)
	if err != nil {
		return err
	}
	for i, ch := range chunks {
		if err := c.Send(replayFrame(t.requestID, i, ch, t.continuation)); err != nil {
			return err
		}
	}
	// The replay is over, the reply goes on: the SDK's client flushes
	// what it batched (replayComplete, ai-chat 0.1.6).
	f := t.frame(wire.Frame{Kind: wire.Chat, Value: map[string]any{
		"type": TypeUseChatResponse, "id": t.requestID, "body": "", "done": false, "replay": true, "replayComplete": true,
	}})
	return c.Send(f)
}

// replayMissed sends c the continuation it missed: its stored chunks
// flagged replay, then its terminal frame (the SDK's
// replayCompletedChunksByRequestId).
func replayMissed(ctx *agenthost.Context, c wire.Conn, m missedTurn) error {
	setMissed(keyOf(ctx), c.Key(), missedTurn{})
	chunks, err := streamChunks(ctx, m.streamID)
	if err != nil {
		return err
	}
	for i, ch := range chunks {
		if err := c.Send(replayFrame(m.requestID, i, ch, true)); err != nil {
			return err
		}
	}
	f := doneFrame(m.requestID)
	f.Value.(map[string]any)["replay"] = true
	f.Value.(map[string]any)["continuation"] = true
	return c.Send(f)
}
