package kvcache

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func mustCheck(t testing.TB, m *Manager) {
	t.Helper()
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
}

// seqTokens returns n tokens starting at start: start, start+1, ...
func seqTokens(start, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(start + i)
	}
	return out
}

func TestBasics(t *testing.T) {
	m := New(8, 0)
	if m.BlockTokens() != 16 || m.NumBlocks() != 8 || m.Free() != 8 || m.Used() != 0 {
		t.Fatalf("fresh manager: bt %d blocks %d free %d used %d", m.BlockTokens(), m.NumBlocks(), m.Free(), m.Used())
	}
	if !m.Allocate(1, seqTokens(0, 20)) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	if got := m.BlockTable(1); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("block table %v", got)
	}
	if m.Len(1) != 20 || m.Used() != 2 || m.Free() != 6 || m.NumCachedTokens(1) != 0 {
		t.Fatalf("len %d used %d free %d cached %d", m.Len(1), m.Used(), m.Free(), m.NumCachedTokens(1))
	}
	// Fill block 1 (tokens 20..31), then one more needs a new block.
	for i := 20; i < 32; i++ {
		if m.NeedsBlock(1) {
			t.Fatalf("NeedsBlock at len %d", m.Len(1))
		}
		if !m.Append(1, int32(i)) {
			t.Fatal("append failed")
		}
		mustCheck(t, m)
	}
	if !m.NeedsBlock(1) {
		t.Fatal("NeedsBlock false at a block boundary")
	}
	if m.Cached() != 2 {
		t.Fatalf("cached %d after filling two blocks", m.Cached())
	}
	if !m.Append(1, 32) {
		t.Fatal("append failed")
	}
	mustCheck(t, m)
	if got := m.BlockTable(1); !slices.Equal(got, []int{0, 1, 2}) || m.Len(1) != 33 {
		t.Fatalf("block table %v len %d", got, m.Len(1))
	}
	m.FreeSeq(1)
	mustCheck(t, m)
	if m.Free() != 8 || m.Used() != 0 || m.Evictable() != 2 || m.NumSeqs() != 0 || m.Has(1) {
		t.Fatalf("after free: free %d used %d evictable %d", m.Free(), m.Used(), m.Evictable())
	}
	m.FreeSeq(1) // no-op
	mustCheck(t, m)
	if m.BlockTable(1) != nil || m.Len(1) != 0 {
		t.Fatal("freed sequence still visible")
	}
}

func TestPrefixSharing(t *testing.T) {
	m := New(16, 16)
	prompt := seqTokens(100, 40)
	if !m.Allocate(1, prompt) || !m.Allocate(2, prompt) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	a, b := m.BlockTable(1), m.BlockTable(2)
	if a[0] != b[0] || a[1] != b[1] || a[2] == b[2] {
		t.Fatalf("tables %v %v: want first two shared, third private", a, b)
	}
	if m.ref[a[0]] != 2 || m.ref[a[1]] != 2 || m.ref[a[2]] != 1 || m.ref[b[2]] != 1 {
		t.Fatalf("refs %d %d %d %d", m.ref[a[0]], m.ref[a[1]], m.ref[a[2]], m.ref[b[2]])
	}
	if m.NumCachedTokens(1) != 0 || m.NumCachedTokens(2) != 32 {
		t.Fatalf("cached tokens %d %d", m.NumCachedTokens(1), m.NumCachedTokens(2))
	}
	if m.Used() != 4 {
		t.Fatalf("used %d, want 4", m.Used())
	}
	if hit, miss := m.Stats(); hit != 32 || miss != 48 {
		t.Fatalf("stats hit %d miss %d", hit, miss)
	}
}

func TestNeverWholePrompt(t *testing.T) {
	m := New(16, 16)
	prompt := seqTokens(0, 32) // exactly two blocks
	if !m.Allocate(1, prompt) || !m.Allocate(2, prompt) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	if got := m.NumCachedTokens(2); got != 16 {
		t.Fatalf("NumCachedTokens %d, want 16 (last token recomputed)", got)
	}
	a, b := m.BlockTable(1), m.BlockTable(2)
	if a[0] != b[0] || a[1] == b[1] {
		t.Fatalf("tables %v %v", a, b)
	}
	// The duplicate second block is not cached; freeing it returns it to the
	// free list.
	if m.cached[b[1]] {
		t.Fatal("duplicate block registered")
	}
	m.FreeSeq(2)
	mustCheck(t, m)
	if m.Evictable() != 0 || len(m.free) != 16-2 {
		t.Fatalf("evictable %d free list %d", m.Evictable(), len(m.free))
	}
}

func TestCachedSurviveFree(t *testing.T) {
	m := New(8, 16)
	prompt := seqTokens(7, 50)
	if !m.Allocate(1, prompt) {
		t.Fatal("allocate failed")
	}
	first := slices.Clone(m.BlockTable(1))
	m.FreeSeq(1)
	mustCheck(t, m)
	if m.Evictable() != 3 {
		t.Fatalf("evictable %d, want 3", m.Evictable())
	}
	if !m.Allocate(2, prompt) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	if m.NumCachedTokens(2) != 48 {
		t.Fatalf("cached %d, want 48", m.NumCachedTokens(2))
	}
	if got := m.BlockTable(2); !slices.Equal(got[:3], first[:3]) {
		t.Fatalf("table %v, want prefix %v", got, first[:3])
	}
	if m.Evictable() != 0 {
		t.Fatalf("evictable %d after reuse", m.Evictable())
	}
}

func TestLRUEviction(t *testing.T) {
	m := New(4, 4)
	// Three one-block prompts; each leaves one cached full block.
	p := [][]int32{seqTokens(0, 4), seqTokens(100, 4), seqTokens(200, 4)}
	for i, pr := range p {
		if !m.Allocate(int64(i), pr) {
			t.Fatal("allocate failed")
		}
	}
	if m.Free() != 1 {
		t.Fatalf("free %d", m.Free())
	}
	full := []int{m.BlockTable(0)[0], m.BlockTable(1)[0], m.BlockTable(2)[0]}
	// Free in order 1, 0, 2: the evictable order is 1's, 0's, 2's block.
	for _, id := range []int64{1, 0, 2} {
		m.FreeSeq(id)
		mustCheck(t, m)
	}
	if m.Evictable() != 3 || len(m.free) != 1 {
		t.Fatalf("evictable %d free %d", m.Evictable(), len(m.free))
	}
	// Touch prompt 0 again: its block leaves the LRU list.
	if !m.Allocate(10, append(slices.Clone(p[0]), 99)) || m.NumCachedTokens(10) != 4 {
		t.Fatal("reuse failed")
	}
	mustCheck(t, m)
	// Prompt 0 needs one new block: the free list has one.
	if m.cached[full[1]] == false || m.cached[full[2]] == false {
		t.Fatal("evicted too early")
	}
	// Now a 2-block new prompt must evict 1's block then 2's block.
	if !m.Allocate(11, seqTokens(300, 8)) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	if got := m.BlockTable(11); !slices.Equal(got, []int{full[1], full[2]}) {
		t.Fatalf("table %v, want evicted %v", got, full[1:])
	}
	if m.Cached() != 3 { // prompt 0's block and the two new full blocks
		t.Fatalf("cached %d", m.Cached())
	}
	if m.Free() != 0 || m.Allocate(12, seqTokens(100, 5)) {
		t.Fatal("allocate succeeded with no free blocks")
	}
}

func TestLRUReverseOrderOnFree(t *testing.T) {
	m := New(4, 4)
	if !m.Allocate(1, seqTokens(0, 12)) { // three full blocks
		t.Fatal("allocate failed")
	}
	tab := slices.Clone(m.BlockTable(1))
	m.FreeSeq(1)
	mustCheck(t, m)
	// One free block, then the tail block (tab[2]) is evicted before the head.
	if !m.Allocate(2, seqTokens(50, 8)) {
		t.Fatal("allocate failed")
	}
	if got := m.BlockTable(2); got[1] != tab[2] {
		t.Fatalf("table %v: want tail block %d evicted first", got, tab[2])
	}
	mustCheck(t, m)
	if !m.Allocate(3, seqTokens(0, 5)) || m.NumCachedTokens(3) != 4 {
		t.Fatal("head block of the freed prompt should still be cached")
	}
	mustCheck(t, m)
}

func TestOutOfBlocksNoSideEffects(t *testing.T) {
	m := New(4, 16)
	shared := seqTokens(0, 32)
	if !m.Allocate(1, append(slices.Clone(shared), 1, 2, 3)) {
		t.Fatal("allocate failed")
	}
	m.FreeSeq(1) // two cached evictable blocks
	if !m.Allocate(2, seqTokens(500, 10)) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	before := snapshot(m)
	// Needs 4 blocks, 2 hits but those are the only evictable ones: 2 new
	// from 1 free... must fail.
	long := append(slices.Clone(shared), seqTokens(900, 40)...)
	if m.CanAllocate(long) {
		t.Fatal("CanAllocate true")
	}
	if m.Allocate(3, long) {
		t.Fatal("allocate succeeded")
	}
	mustCheck(t, m)
	if after := snapshot(m); after != before {
		t.Fatalf("state changed:\n%v\n%v", before, after)
	}
	// A shorter one fits: 2 hits + 1 new.
	short := append(slices.Clone(shared), 7)
	if !m.CanAllocate(short) || !m.Allocate(3, short) || m.NumCachedTokens(3) != 32 {
		t.Fatal("allocate with hits failed")
	}
	mustCheck(t, m)
	// Append at a block boundary with no blocks left fails cleanly.
	for m.Free() > 0 {
		if !m.Append(2, 1) {
			t.Fatal("append failed")
		}
	}
	for !m.NeedsBlock(2) {
		m.Append(2, 1)
	}
	before = snapshot(m)
	if m.CanAppend(1) || m.Append(2, 1) {
		t.Fatal("append succeeded with no blocks")
	}
	if after := snapshot(m); after != before {
		t.Fatal("failed append changed state")
	}
	mustCheck(t, m)
}

type snap struct {
	free, evictable, cached, seqs, len2 int
	refs                                string
}

func snapshot(m *Manager) snap {
	return snap{m.Free(), m.Evictable(), m.Cached(), m.NumSeqs(), m.Len(2), string(fmtRefs(m.ref))}
}

func fmtRefs(r []int32) []byte {
	out := make([]byte, len(r))
	for i, v := range r {
		out[i] = byte('0' + v)
	}
	return out
}

func TestChainedHashDependsOnPrefix(t *testing.T) {
	block := seqTokens(40, 16)
	h1 := blockHash(fnvOffset, block)
	h2 := blockHash(blockHash(fnvOffset, seqTokens(0, 16)), block)
	h3 := blockHash(blockHash(fnvOffset, seqTokens(1, 16)), block)
	if h1 == h2 || h2 == h3 || h1 == h3 {
		t.Fatalf("hashes not prefix dependent: %x %x %x", h1, h2, h3)
	}
	// And in the manager: same second block under different first blocks
	// is not shared.
	m := New(8, 16)
	a := append(seqTokens(0, 16), append(slices.Clone(block), 9)...)
	b := append(seqTokens(1, 16), append(slices.Clone(block), 9)...)
	if !m.Allocate(1, a) || !m.Allocate(2, b) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	if m.NumCachedTokens(2) != 0 || m.BlockTable(1)[1] == m.BlockTable(2)[1] {
		t.Fatal("block shared across different prefixes")
	}
}

func TestPreemptionFlow(t *testing.T) {
	m := New(6, 4)
	prompt := seqTokens(0, 9)
	if !m.Allocate(1, prompt) || !m.Allocate(2, seqTokens(100, 9)) {
		t.Fatal("allocate failed")
	}
	// Decode both until one cannot get a block.
	gen := map[int64][]int32{1: slices.Clone(prompt)}
	var victim int64 = -1
	for step := int32(0); victim < 0; step++ {
		need := 0
		for _, id := range []int64{1, 2} {
			if m.NeedsBlock(id) {
				need++
			}
		}
		if !m.CanAppend(need) {
			victim = 1
			break
		}
		for _, id := range []int64{1, 2} {
			if !m.Append(id, 1000+step) {
				t.Fatal("append failed after CanAppend")
			}
			if id == 1 {
				gen[1] = append(gen[1], 1000+step)
			}
		}
		mustCheck(t, m)
	}
	all := gen[victim]
	m.FreeSeq(victim)
	mustCheck(t, m)
	m.FreeSeq(2) // the other finishes
	if !m.CanAllocate(all) || !m.Allocate(victim, all) {
		t.Fatal("re-allocate failed")
	}
	mustCheck(t, m)
	want := (len(all) - 1) / 4 * 4
	if got := m.NumCachedTokens(victim); got != want {
		t.Fatalf("recompute served %d cached tokens, want %d", got, want)
	}
}

func TestPanics(t *testing.T) {
	m := New(2, 4)
	m.Allocate(1, []int32{1})
	for name, f := range map[string]func(){
		"dup":    func() { m.Allocate(1, []int32{1}) },
		"empty":  func() { m.Allocate(2, nil) },
		"append": func() { m.Append(9, 1) },
		"needs":  func() { m.NeedsBlock(9) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	mustCheck(t, m)
}

// TestRandomized runs thousands of random operations on sequences with shared
// prefixes and checks the invariants after each.
func TestRandomized(t *testing.T) {
	for _, cfg := range []struct{ blocks, bt int }{{32, 4}, {64, 16}, {7, 2}} {
		r := rand.New(rand.NewPCG(1, uint64(cfg.blocks)))
		m := New(cfg.blocks, cfg.bt)
		// A few base prefixes to share.
		bases := make([][]int32, 4)
		for i := range bases {
			bases[i] = make([]int32, 3*cfg.bt+r.IntN(cfg.bt))
			for j := range bases[i] {
				bases[i][j] = int32(r.IntN(3)) // small alphabet: many equal blocks
			}
		}
		live := []int64{}
		toks := map[int64][]int32{}
		next := int64(0)
		hits := 0
		const ops = 5000
		for op := 0; op < ops; op++ {
			switch k := r.IntN(10); {
			case k < 3 || len(live) == 0: // allocate
				base := bases[r.IntN(len(bases))]
				p := slices.Clone(base[:1+r.IntN(len(base))])
				for n := r.IntN(2 * cfg.bt); n > 0; n-- {
					p = append(p, int32(r.IntN(3)))
				}
				can := m.CanAllocate(p)
				freeBefore := m.Free()
				ok := m.Allocate(next, p)
				if ok != can {
					t.Fatalf("op %d: CanAllocate %v, Allocate %v", op, can, ok)
				}
				if ok {
					live = append(live, next)
					toks[next] = p
					if m.NumCachedTokens(next) > 0 {
						hits++
					}
				} else if m.Free() != freeBefore || m.Has(next) {
					t.Fatalf("op %d: failed Allocate had side effects", op)
				}
				next++
			case k < 8: // append
				id := live[r.IntN(len(live))]
				tok := int32(r.IntN(3))
				can := !m.NeedsBlock(id) || m.CanAppend(1)
				ok := m.Append(id, tok)
				if ok != can {
					t.Fatalf("op %d: can %v append %v", op, can, ok)
				}
				if ok {
					toks[id] = append(toks[id], tok)
				}
			default: // free (finish, cancel or preempt)
				i := r.IntN(len(live))
				id := live[i]
				m.FreeSeq(id)
				live = slices.Delete(live, i, i+1)
				if r.IntN(2) == 0 { // preempted: re-queue with all tokens
					all := toks[id]
					if m.Allocate(next, all) {
						live = append(live, next)
						toks[next] = all
					}
					next++
				}
				delete(toks, id)
			}
			if err := m.check(); err != nil {
				t.Fatalf("op %d: %v", op, err)
			}
			for _, id := range live {
				if m.Len(id) != len(toks[id]) {
					t.Fatalf("op %d: seq %d len %d want %d", op, id, m.Len(id), len(toks[id]))
				}
			}
		}
		if hits == 0 {
			t.Errorf("%+v: no prefix hits in %d ops", cfg, ops)
		}
		for _, id := range live {
			m.FreeSeq(id)
		}
		mustCheck(t, m)
		if m.Used() != 0 || m.Free() != cfg.blocks {
			t.Fatalf("leak: used %d", m.Used())
		}
	}
}

// TestHashCollisionVerified simulates a 64-bit collision: a cached block
// whose hash matches but whose tokens differ must not be reused.
func TestHashCollisionVerified(t *testing.T) {
	m := New(4, 4)
	p := seqTokens(0, 5)
	if !m.Allocate(1, p) {
		t.Fatal("allocate failed")
	}
	b := m.BlockTable(1)[0]
	m.FreeSeq(1)
	m.toks[b*m.bt] = 12345 // same hash, different stored tokens
	if !m.Allocate(2, p) {
		t.Fatal("allocate failed")
	}
	mustCheck(t, m)
	if m.NumCachedTokens(2) != 0 || m.NumCachedTokens(99) != 0 {
		t.Fatal("collided block reused")
	}
	if m.CanAllocate(nil) {
		t.Fatal("CanAllocate(nil) true")
	}
}

func BenchmarkAppend(b *testing.B) {
	m := New(1<<16, 16)
	const seqLen = 4096
	id := int64(0)
	m.Allocate(id, []int32{1})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if m.Len(id) >= seqLen {
			m.FreeSeq(id)
			id++
			m.Allocate(id, []int32{int32(id)})
		}
		if !m.Append(id, int32(i)) {
			b.Fatal("append failed")
		}
	}
}

func BenchmarkAllocatePrefixHit(b *testing.B) {
	m := New(1<<12, 16)
	prompt := seqTokens(0, 1024) // 63 full blocks hit, 1 new block
	m.Allocate(0, prompt)
	m.FreeSeq(0)
	b.ReportAllocs()
	for i := int64(1); b.Loop(); i++ {
		if !m.Allocate(i, prompt) {
			b.Fatal("allocate failed")
		}
		m.FreeSeq(i)
	}
	b.ReportMetric(float64(len(prompt)), "tokens/op")
}
