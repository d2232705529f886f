package main

// Pure measurement helpers: latency histogram, per-publisher sequence
// tracking (loss and duplicates), medians. No I/O, no clocks.

import (
	"math"
	"math/bits"
	"sort"
	"time"
)

// Log-linear histogram of non-negative int64 values (nanoseconds): values
// below histSub are counted exactly; above, every power of two is split into
// histHalf equal buckets, so a bucket is at most 1/64 (~1.6%) of its values
// wide. Fixed size (~30 KiB), no allocation when recording.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128
	histHalf    = histSub / 2      // 64
	histBuckets = histSub + (63-histSubBits)*histHalf
)

type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max int64
}

// bucketOf returns the bucket index of v (negative values count as 0).
func bucketOf(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	u := uint64(v)
	shift := bits.Len64(u) - histSubBits // >= 1
	top := u >> uint(shift)              // in [histHalf, histSub)
	return histSub + (shift-1)*histHalf + int(top-histHalf)
}

// bucketRange returns the values [lo, hi) counted in bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i) + 1
	}
	k := i - histSub
	shift := uint(k/histHalf + 1)
	top := uint64(k%histHalf + histHalf)
	l, h := top<<shift, (top+1)<<shift
	if h > math.MaxInt64 {
		h = math.MaxInt64
	}
	return int64(l), int64(h)
}

func (h *histogram) record(v int64) {
	if v < 0 {
		v = 0
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the value at quantile q (0..1): the middle of the bucket
// holding the ceil(q*n)-th smallest value, clamped to the exact min and max
// (which q <= 0 and q >= 1 return).
func (h *histogram) quantile(q float64) int64 {
	switch {
	case h.n == 0:
		return 0
	case q <= 0:
		return h.min
	case q >= 1:
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo-1)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// seqTracker records which sequence numbers of each publisher a subscriber
// received, to count unique deliveries, duplicates and (given what was sent)
// losses. Memory is one bit per sequence number, bounded by maxSeq.
type seqTracker struct {
	seen     [][]uint64 // per publisher id: bitset of received sequence numbers
	unique   []int64    // per publisher id
	dups     int64
	rejected int64 // publisher id or sequence number out of range
	maxSeq   uint64
}

func newSeqTracker(publishers int, maxSeq uint64) *seqTracker {
	return &seqTracker{
		seen:   make([][]uint64, publishers),
		unique: make([]int64, publishers),
		maxSeq: maxSeq,
	}
}

// observe records one delivery and reports whether it was new (neither a
// duplicate nor out of range).
func (t *seqTracker) observe(pub uint32, seq uint64) (fresh bool) {
	if int(pub) >= len(t.seen) || seq >= t.maxSeq {
		t.rejected++
		return false
	}
	b := t.seen[pub]
	w := int(seq / 64)
	if w >= len(b) {
		n := max(w+1, 2*len(b), 16)
		nb := make([]uint64, n)
		copy(nb, b)
		b = nb
		t.seen[pub] = b
	}
	mask := uint64(1) << (seq % 64)
	if b[w]&mask != 0 {
		t.dups++
		return false
	}
	b[w] |= mask
	t.unique[pub]++
	return true
}

// totalUnique is the number of distinct messages received.
func (t *seqTracker) totalUnique() int64 {
	var n int64
	for _, u := range t.unique {
		n += u
	}
	return n
}

// lost returns how many of the messages sent (sent[p] messages with sequence
// numbers 0..sent[p]-1 by publisher p) were never received.
func (t *seqTracker) lost(sent []int64) int64 {
	var n int64
	for p, s := range sent {
		var u int64
		if p < len(t.unique) {
			u = t.unique[p]
		}
		if s > u {
			n += s - u
		}
	}
	return n
}

func medianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func medianDuration(xs []time.Duration) time.Duration {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return time.Duration(medianFloat(f))
}

func medianInt(xs []int64) int64 {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return int64(math.Round(medianFloat(f)))
}
