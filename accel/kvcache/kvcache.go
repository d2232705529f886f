// Package kvcache is the bookkeeping half of a paged KV cache in the style of
// vLLM V1 (PagedAttention with automatic prefix caching). It hands out block
// ids; the engine maps each id to the K/V memory of one block
// (BlockTokens token slots in every layer). No tensors live here.
//
// # Design
//
//   - The pool has a fixed number of blocks, ids 0..NumBlocks-1, each holding
//     BlockTokens tokens (16 by default, like vLLM).
//   - Every sequence has a block table: the i-th entry is the physical block
//     holding its tokens [i*BlockTokens, (i+1)*BlockTokens). Tables only grow
//     (Append) until the sequence is freed (FreeSeq).
//   - Blocks carry reference counts: a block shared by the common prompt
//     prefix of several sequences has one reference per block table.
//   - Prefix caching: every full block gets a chained hash,
//     h_i = H(h_{i-1}, tokens of block i) with h_{-1} a fixed seed, so equal
//     hashes mean (barring 64-bit collisions) the same whole prefix, not just
//     the same 16 tokens. A hash -> block map finds cached blocks; the block's
//     tokens are also compared on a hit, so a collision needs equal block
//     tokens as well. H is 64-bit FNV-1a over the parent hash and the
//     little-endian token ids; it is deterministic across processes.
//   - Every block is in exactly one state: free (uncached, on the free list),
//     in use (reference count > 0), or cached-evictable (reference count 0
//     but still in the hash map, kept in least-recently-freed order).
//     Allocation takes from the free list first and only then evicts the
//     least recently used cached block, dropping its hash entry. FreeSeq
//     releases a table's blocks in reverse order, so the tail of a prompt
//     (which hashes more tokens and is less likely to be shared) is evicted
//     before its head, as in vLLM.
//   - A block is registered in the prefix cache when it becomes full: at
//     Allocate for the prompt's full blocks, and at Append for the block that
//     the appended token fills. If the hash is already cached by another
//     block, the new block stays an uncached duplicate and goes back to the
//     free list when released.
//   - NumCachedTokens says how many leading prompt tokens were found in the
//     cache so prefill can skip them. It is never the whole prompt: only full
//     blocks within the first len(prompt)-1 tokens are looked up, so at least
//     the last token is recomputed to produce logits (as vLLM does).
//
// Contract with the engine: a block is registered as soon as it is allocated
// full, before its K/V has been written. The engine must therefore write the
// K/V of a step's prefills before any later step reads them; a sequence that
// hits such blocks must not be run in the same forward pass as the prefill
// that produces them unless the engine orders the writes first. With
// whole-prompt prefills done in the step after Allocate, this holds.
//
// Copy-on-write is not implemented and not needed: there is no beam search
// or sequence forking, and shared blocks are always full prefix blocks that
// no sequence writes again (appends only ever write the last, private,
// non-full block, or a fresh block).
//
// # Preemption by recompute
//
// When a step cannot get the blocks it needs, the scheduler preempts:
//
//  1. Before the decode step it counts the running sequences for which
//     NeedsBlock is true and asks CanAppend(count). Before admitting a
//     waiting request it asks CanAllocate(tokens).
//  2. If the running batch does not fit, it picks a victim (the most recently
//     admitted running sequence, like vLLM), remembers the victim's prompt
//     plus generated tokens, calls FreeSeq(victim) and puts the request back
//     at the head of the waiting queue. Its full blocks stay in the prefix
//     cache as evictable, so they survive unless memory pressure evicts them.
//     It repeats until the remaining sequences fit.
//  3. When the victim is readmitted, the scheduler calls Allocate with
//     prompt+generated tokens; NumCachedTokens of them are served from the
//     prefix cache and the rest are re-prefilled. Generation then continues
//     from where it stopped (the sampled tokens are already in the list).
//
// A request whose client goes away is cancelled: the scheduler drops it from
// its queues and calls FreeSeq, exactly like the end of a finished request.
//
// # Concurrency
//
// A Manager is not safe for concurrent use. It is owned by one goroutine,
// the scheduler, which is the only code that allocates, appends and frees;
// it needs no locking. Block tables returned by BlockTable are read-only
// views valid until the next call that changes that sequence.
package kvcache

import "fmt"

// DefaultBlockTokens is the default number of tokens per block (vLLM's).
const DefaultBlockTokens = 16

// FNV-1a 64-bit parameters; fnvOffset is also the parent hash of block 0.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// none marks "no block" in the linked list of evictable blocks.
const none = -1

// Manager allocates KV-cache blocks to sequences. See the package doc for
// the design; it must be used by a single goroutine.
type Manager struct {
	bt int // tokens per block

	// Per-block state, indexed by block id.
	ref    []int32  // number of block-table references
	hash   []uint64 // chained hash; valid when cached
	cached []bool   // the hash map entry for hash[b] points to b
	toks   []int32  // numBlocks*bt: tokens of cached blocks, to verify hits
	prev   []int32  // evictable LRU list links (none when not on it)
	next   []int32
	onLRU  []bool

	free     []int // uncached free blocks, a stack; popped from the end
	lruHead  int   // least recently freed evictable cached block
	lruTail  int
	lruLen   int
	byHash   map[uint64]int
	seqs     map[int64]*seq
	hitToks  uint64 // prompt tokens served from the cache, for stats
	missToks uint64 // prompt tokens that had to be computed
}

// seq is the state of one sequence.
type seq struct {
	tokens []int32  // all tokens with slots: prompt, then appended ones
	blocks []int    // block table
	hashes []uint64 // chained hash of each full block, len = len(tokens)/bt
	cached int      // prompt tokens found in the prefix cache
}

// New returns a Manager with numBlocks blocks of blockTokens tokens each
// (DefaultBlockTokens when blockTokens is 0). It panics if numBlocks is
// negative or blockTokens is negative.
func New(numBlocks, blockTokens int) *Manager {
	if blockTokens == 0 {
		blockTokens = DefaultBlockTokens
	}
	if numBlocks < 0 || blockTokens < 0 {
		panic(fmt.Sprintf("kvcache: bad sizes %d blocks x %d tokens", numBlocks, blockTokens))
	}
	m := &Manager{
		bt:      blockTokens,
		ref:     make([]int32, numBlocks),
		hash:    make([]uint64, numBlocks),
		cached:  make([]bool, numBlocks),
		toks:    make([]int32, numBlocks*blockTokens),
		prev:    make([]int32, numBlocks),
		next:    make([]int32, numBlocks),
		onLRU:   make([]bool, numBlocks),
		free:    make([]int, 0, numBlocks),
		lruHead: none,
		lruTail: none,
		byHash:  make(map[uint64]int),
		seqs:    make(map[int64]*seq),
	}
	// Push in reverse so block 0 is handed out first.
	for b := numBlocks - 1; b >= 0; b-- {
		m.free = append(m.free, b)
		m.prev[b], m.next[b] = none, none
	}
	return m
}

// NumBlocks returns the size of the pool.
func (m *Manager) NumBlocks() int { return len(m.ref) }

// BlockTokens returns the number of tokens per block.
func (m *Manager) BlockTokens() int { return m.bt }

// Free returns the number of blocks available for allocation: uncached free
// blocks plus cached blocks that no sequence references (evictable).
func (m *Manager) Free() int { return len(m.free) + m.lruLen }

// Used returns the number of blocks referenced by at least one sequence.
func (m *Manager) Used() int { return len(m.ref) - m.Free() }

// Cached returns the number of blocks in the prefix cache, in use or not.
func (m *Manager) Cached() int { return len(m.byHash) }

// Evictable returns the number of cached blocks that no sequence references.
func (m *Manager) Evictable() int { return m.lruLen }

// NumSeqs returns the number of live sequences.
func (m *Manager) NumSeqs() int { return len(m.seqs) }

// Has reports whether seqID is a live sequence.
func (m *Manager) Has(seqID int64) bool { _, ok := m.seqs[seqID]; return ok }

// Stats returns the prompt tokens served from the prefix cache (hit) and
// those allocated for computation (miss) over all successful Allocate calls.
func (m *Manager) Stats() (hitTokens, missTokens uint64) { return m.hitToks, m.missToks }

// blockHash returns the chained hash of a block with the given tokens whose
// predecessor has hash parent (fnvOffset for the first block).
func blockHash(parent uint64, tokens []int32) uint64 {
	h := fnvOffset
	for i := 0; i < 8; i++ {
		h ^= uint64(byte(parent >> (8 * i)))
		h *= fnvPrime
	}
	for _, t := range tokens {
		u := uint32(t)
		h ^= uint64(byte(u))
		h *= fnvPrime
		h ^= uint64(byte(u >> 8))
		h *= fnvPrime
		h ^= uint64(byte(u >> 16))
		h *= fnvPrime
		h ^= uint64(byte(u >> 24))
		h *= fnvPrime
	}
	return h
}

// lookup returns the cached block for hash h whose tokens equal tokens.
func (m *Manager) lookup(h uint64, tokens []int32) (int, bool) {
	b, ok := m.byHash[h]
	if !ok {
		return 0, false
	}
	stored := m.toks[b*m.bt : (b+1)*m.bt]
	for i, t := range tokens {
		if stored[i] != t {
			return 0, false
		}
	}
	return b, true
}

// prefixHits finds the cached blocks that cover the longest prefix of
// tokens within its first len(tokens)-1 tokens. It returns the blocks, their
// hashes, and how many of them are currently evictable. No side effects.
func (m *Manager) prefixHits(tokens []int32) (blocks []int, hashes []uint64, evictable int) {
	maxFull := (len(tokens) - 1) / m.bt
	if maxFull > 0 {
		if _, ok := m.byHash[blockHash(fnvOffset, tokens[:m.bt])]; ok {
			blocks = make([]int, 0, maxFull)
			hashes = make([]uint64, 0, maxFull)
		}
	}
	parent := fnvOffset
	for i := 0; i < maxFull; i++ {
		bt := tokens[i*m.bt : (i+1)*m.bt]
		h := blockHash(parent, bt)
		b, ok := m.lookup(h, bt)
		if !ok {
			break
		}
		blocks = append(blocks, b)
		hashes = append(hashes, h)
		if m.ref[b] == 0 {
			evictable++
		}
		parent = h
	}
	return blocks, hashes, evictable
}

// blocksFor returns the number of blocks that n tokens occupy.
func (m *Manager) blocksFor(n int) int { return (n + m.bt - 1) / m.bt }

// CanAllocate reports whether Allocate(_, tokens) would succeed now, taking
// prefix-cache hits into account. It has no side effects.
func (m *Manager) CanAllocate(tokens []int32) bool {
	if len(tokens) == 0 {
		return false
	}
	hits, _, evictable := m.prefixHits(tokens)
	need := m.blocksFor(len(tokens)) - len(hits)
	return need <= m.Free()-evictable
}

// Allocate creates sequence seqID with the given prompt tokens (for a
// preempted request: prompt plus generated tokens). Full leading blocks
// found in the prefix cache are shared (their reference counts grow); new
// blocks are allocated for the rest and the prompt's full blocks are
// registered in the prefix cache. It returns false, changing nothing, when
// not enough blocks are available. It panics if seqID is already live or
// tokens is empty.
func (m *Manager) Allocate(seqID int64, tokens []int32) bool {
	if _, dup := m.seqs[seqID]; dup {
		panic(fmt.Sprintf("kvcache: Allocate: sequence %d already exists", seqID))
	}
	if len(tokens) == 0 {
		panic("kvcache: Allocate: empty prompt")
	}
	hits, hashes, evictable := m.prefixHits(tokens)
	nblocks := m.blocksFor(len(tokens))
	if nblocks-len(hits) > m.Free()-evictable {
		return false
	}
	s := &seq{
		tokens: append(make([]int32, 0, nblocks*m.bt), tokens...),
		blocks: make([]int, 0, nblocks),
		hashes: make([]uint64, 0, len(tokens)/m.bt),
		cached: len(hits) * m.bt,
	}
	// Touch the hits first so that the allocations below cannot evict them.
	for _, b := range hits {
		m.incRef(b)
	}
	s.blocks = append(s.blocks, hits...)
	s.hashes = append(s.hashes, hashes...)
	for i := len(hits); i < nblocks; i++ {
		s.blocks = append(s.blocks, m.take())
	}
	for i := len(hits); i < len(tokens)/m.bt; i++ {
		m.sealBlock(s, i)
	}
	m.seqs[seqID] = s
	m.hitToks += uint64(s.cached)
	m.missToks += uint64(len(tokens) - s.cached)
	return true
}

// NumCachedTokens returns how many leading prompt tokens of seqID were found
// in the prefix cache at Allocate; prefill may skip them. It is a multiple of
// BlockTokens and always less than the prompt length. It is 0 for an unknown
// sequence.
func (m *Manager) NumCachedTokens(seqID int64) int {
	if s, ok := m.seqs[seqID]; ok {
		return s.cached
	}
	return 0
}

// NeedsBlock reports whether the next Append to seqID needs a new block. It
// panics if seqID is unknown.
func (m *Manager) NeedsBlock(seqID int64) bool {
	return len(m.mustSeq("NeedsBlock", seqID).tokens)%m.bt == 0
}

// CanAppend reports whether n new blocks can be allocated now: the scheduler
// passes the number of running sequences for which NeedsBlock is true to
// know whether the next decode step fits without preemption.
func (m *Manager) CanAppend(n int) bool { return n <= m.Free() }

// Append adds a slot for one more token to seqID (decode). It allocates a new
// block when the last one is full and returns false, changing nothing, when
// no block is available. When the token fills its block, the block's hash is
// computed and it is registered in the prefix cache. It panics if seqID is
// unknown.
func (m *Manager) Append(seqID int64, token int32) bool {
	s := m.mustSeq("Append", seqID)
	if len(s.tokens)%m.bt == 0 {
		if m.Free() == 0 {
			return false
		}
		s.blocks = append(s.blocks, m.take())
	}
	s.tokens = append(s.tokens, token)
	if len(s.tokens)%m.bt == 0 {
		m.sealBlock(s, len(s.tokens)/m.bt-1)
	}
	return true
}

// BlockTable returns seqID's block table: entry i is the block holding
// tokens [i*BlockTokens, (i+1)*BlockTokens). The slice is a read-only view
// owned by the Manager, valid until the next change to the sequence. It is
// nil for an unknown sequence.
func (m *Manager) BlockTable(seqID int64) []int {
	if s, ok := m.seqs[seqID]; ok {
		return s.blocks[:len(s.blocks):len(s.blocks)]
	}
	return nil
}

// Len returns the number of tokens with slots in seqID (0 if unknown).
func (m *Manager) Len(seqID int64) int {
	if s, ok := m.seqs[seqID]; ok {
		return len(s.tokens)
	}
	return 0
}

// FreeSeq releases seqID's blocks, in reverse table order, and forgets the
// sequence. Blocks whose reference count drops to 0 stay in the prefix cache
// as evictable if they are cached, and return to the free list otherwise.
// Freeing an unknown sequence is a no-op, so cancellation may race with
// completion in the scheduler's bookkeeping.
func (m *Manager) FreeSeq(seqID int64) {
	s, ok := m.seqs[seqID]
	if !ok {
		return
	}
	delete(m.seqs, seqID)
	for i := len(s.blocks) - 1; i >= 0; i-- {
		b := s.blocks[i]
		m.ref[b]--
		if m.ref[b] > 0 {
			continue
		}
		if m.cached[b] {
			m.lruPush(b)
		} else {
			m.free = append(m.free, b)
		}
	}
}

func (m *Manager) mustSeq(op string, seqID int64) *seq {
	s, ok := m.seqs[seqID]
	if !ok {
		panic(fmt.Sprintf("kvcache: %s: unknown sequence %d", op, seqID))
	}
	return s
}

// sealBlock computes the hash of s's full block i and registers the block in
// the prefix cache unless that hash is already cached by another block.
func (m *Manager) sealBlock(s *seq, i int) {
	parent := fnvOffset
	if i > 0 {
		parent = s.hashes[i-1]
	}
	toks := s.tokens[i*m.bt : (i+1)*m.bt]
	h := blockHash(parent, toks)
	s.hashes = append(s.hashes, h)
	if _, dup := m.byHash[h]; dup {
		return
	}
	b := s.blocks[i]
	m.byHash[h] = b
	m.hash[b] = h
	m.cached[b] = true
	copy(m.toks[b*m.bt:(b+1)*m.bt], toks)
}

// incRef adds a reference to b, taking it off the evictable list if needed.
func (m *Manager) incRef(b int) {
	if m.ref[b] == 0 && m.onLRU[b] {
		m.lruRemove(b)
	}
	m.ref[b]++
}

// take returns a block with reference count 1: from the free list if
// possible, else by evicting the least recently used cached block. The
// caller has checked that one is available.
func (m *Manager) take() int {
	var b int
	if n := len(m.free); n > 0 {
		b = m.free[n-1]
		m.free = m.free[:n-1]
	} else {
		b = m.lruHead
		if b == none {
			panic("kvcache: out of blocks")
		}
		m.lruRemove(b)
		delete(m.byHash, m.hash[b])
		m.cached[b] = false
		m.hash[b] = 0
	}
	m.ref[b] = 1
	return b
}

func (m *Manager) lruPush(b int) {
	m.prev[b], m.next[b] = int32(m.lruTail), none
	if m.lruTail == none {
		m.lruHead = b
	} else {
		m.next[m.lruTail] = int32(b)
	}
	m.lruTail = b
	m.onLRU[b] = true
	m.lruLen++
}

func (m *Manager) lruRemove(b int) {
	p, n := int(m.prev[b]), int(m.next[b])
	if p == none {
		m.lruHead = n
	} else {
		m.next[p] = int32(n)
	}
	if n == none {
		m.lruTail = p
	} else {
		m.prev[n] = int32(p)
	}
	m.prev[b], m.next[b] = none, none
	m.onLRU[b] = false
	m.lruLen--
}
