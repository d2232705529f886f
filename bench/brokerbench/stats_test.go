package main

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 123456789, 1 << 40, math.MaxInt64} {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || (v >= hi && v != math.MaxInt64) {
			t.Errorf("value %d in bucket %d = [%d,%d)", v, i, lo, hi)
		}
		if v >= histSub && float64(hi-lo) > float64(lo)/histHalf+1 {
			t.Errorf("bucket [%d,%d) wider than 1/%d", lo, hi, histHalf)
		}
	}
	if bucketOf(-5) != 0 {
		t.Errorf("negative values must land in bucket 0")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram must report 0")
	}
	// 1..100000 µs, uniform.
	for i := int64(1); i <= 100000; i++ {
		h.record(i * int64(time.Microsecond))
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 50e6}, {0.99, 99e6}, {0.999, 99.9e6}} {
		got := float64(h.quantile(c.q))
		if math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("q%.3f = %.0f, want %.0f ±2%%", c.q, got, c.want)
		}
	}
	if h.quantile(0) != int64(time.Microsecond) || h.quantile(1) != 100000*int64(time.Microsecond) {
		t.Errorf("q0/q1 = %d/%d, want exact min/max", h.quantile(0), h.quantile(1))
	}

	// Small values are exact; merge adds up.
	var a, b histogram
	for _, v := range []int64{5, 5, 5, 7} {
		a.record(v)
	}
	b.record(100)
	a.merge(&b)
	if a.n != 5 || a.quantile(0.5) != 5 || a.quantile(0.8) != 7 || a.quantile(1) != 100 {
		t.Errorf("merged: n=%d q50=%d q80=%d q100=%d", a.n, a.quantile(0.5), a.quantile(0.8), a.quantile(1))
	}
}

func TestSeqTracker(t *testing.T) {
	tr := newSeqTracker(2, 1000)
	for seq := uint64(0); seq < 10; seq++ {
		if seq != 3 {
			tr.observe(0, seq)
		}
	}
	if tr.observe(0, 5) {
		t.Error("second delivery of seq 5 reported as new")
	}
	tr.observe(1, 0)
	tr.observe(1, 900) // grows the bitset
	tr.observe(2, 0)   // unknown publisher
	tr.observe(1, 1000)
	if tr.dups != 1 || tr.rejected != 2 {
		t.Errorf("dups=%d rejected=%d, want 1 and 2", tr.dups, tr.rejected)
	}
	if got := tr.totalUnique(); got != 11 {
		t.Errorf("unique = %d, want 11", got)
	}
	// publisher 0 sent 12 (missing 3, 10, 11); publisher 1 sent 901 (got 2).
	if got := tr.lost([]int64{12, 901}); got != 3+899 {
		t.Errorf("lost = %d, want %d", got, 3+899)
	}
}

func TestPayloadAndMedian(t *testing.T) {
	buf := make([]byte, 64)
	encodePayload(buf, 1234567890123, 7, 42)
	ts, pub, seq, ok := decodePayload(buf)
	if !ok || ts != 1234567890123 || pub != 7 || seq != 42 {
		t.Errorf("decode = %d %d %d %v", ts, pub, seq, ok)
	}
	if _, _, _, ok := decodePayload(buf[:headerLen-1]); ok {
		t.Error("short payload accepted")
	}
	if medianFloat([]float64{3, 1, 2}) != 2 || medianFloat([]float64{4, 1, 3, 2}) != 2.5 || medianInt(nil) != 0 {
		t.Error("median")
	}
	if fmtCount(1234567.4) != "1,234,567" || fmtLatency(1234*time.Microsecond) != "1.23ms" || fmtLatency(412*time.Microsecond) != "412µs" {
		t.Errorf("format: %s %s %s", fmtCount(1234567.4), fmtLatency(1234*time.Microsecond), fmtLatency(412*time.Microsecond))
	}
}

func TestFlowGate(t *testing.T) {
	f := newFlow(8, 2, 2) // 4 per publisher, 2 subscribers
	// Until the stall is tested below, no pause of this goroutine (a loaded
	// machine) may pass for one.
	f.stall = time.Hour
	g := &gate{f: f, pub: 1}
	ctx := context.Background()
	far := clockNow() + int64(time.Minute)
	for seq := int64(0); seq < 4; seq++ {
		if !g.acquire(ctx, seq, far) {
			t.Fatalf("seq %d refused inside the window", seq)
		}
	}
	// Only the slowest subscriber counts; a later sequence number implies the
	// earlier ones (received or lost).
	done := make(chan bool)
	go func() { done <- g.acquire(ctx, 4, far) }()
	f.delivered(0, 1, 3)
	select {
	case <-done:
		t.Fatal("released although subscriber 1 has nothing")
	case <-time.After(20 * time.Millisecond):
	}
	f.delivered(1, 1, 1)
	if !<-done {
		t.Fatal("not released once both subscribers progressed")
	}
	if g.f.stalls.Load() != 0 {
		t.Fatal("unexpected stall")
	}
	// Nothing arrives: released after stallTimeout, counted as a stall.
	f.stall = stallTimeout
	start := time.Now()
	if !g.acquire(ctx, 6, far) || time.Since(start) < stallTimeout || f.stalls.Load() != 1 {
		t.Fatalf("stall handling: waited %v, stalls %d", time.Since(start), f.stalls.Load())
	}
	if newFlow(0, 1, 1) != nil || !(&gate{}).acquire(ctx, 1<<40, far) {
		t.Fatal("--inflight 0 must disable flow control")
	}
}
