package kvcache

import "fmt"

// check verifies the Manager's invariants; tests call it after every
// operation.
//   - every block is exactly one of free (on the free list), in use
//     (ref > 0) or cached-evictable (ref 0, on the LRU list, in the map);
//   - reference counts equal the number of block-table references;
//   - hash map entries point to full blocks with matching hashes and tokens;
//   - every sequence's hashes are the chained hashes of its full blocks.
func (m *Manager) check() error {
	n := len(m.ref)
	onFree := make([]int, n)
	for _, b := range m.free {
		if b < 0 || b >= n {
			return fmt.Errorf("free list has bad block %d", b)
		}
		onFree[b]++
	}
	// Walk the LRU list.
	seen := 0
	prev := none
	for b := m.lruHead; b != none; b = int(m.next[b]) {
		if int(m.prev[b]) != prev {
			return fmt.Errorf("lru: block %d prev %d, want %d", b, m.prev[b], prev)
		}
		if !m.onLRU[b] {
			return fmt.Errorf("lru: block %d on list but not flagged", b)
		}
		seen++
		if seen > n {
			return fmt.Errorf("lru: cycle")
		}
		prev = b
	}
	if prev != m.lruTail {
		return fmt.Errorf("lru: tail %d, walk ended at %d", m.lruTail, prev)
	}
	if seen != m.lruLen {
		return fmt.Errorf("lru: length %d, walked %d", m.lruLen, seen)
	}
	// Reference counts from block tables.
	refs := make([]int32, n)
	for id, s := range m.seqs {
		if len(s.blocks) != m.blocksFor(len(s.tokens)) {
			return fmt.Errorf("seq %d: %d blocks for %d tokens", id, len(s.blocks), len(s.tokens))
		}
		full := len(s.tokens) / m.bt
		if len(s.hashes) != full {
			return fmt.Errorf("seq %d: %d hashes for %d full blocks", id, len(s.hashes), full)
		}
		if s.cached%m.bt != 0 || s.cached >= len(s.tokens) {
			return fmt.Errorf("seq %d: cached %d of %d tokens", id, s.cached, len(s.tokens))
		}
		parent := fnvOffset
		for i, b := range s.blocks {
			refs[b]++
			if i >= full {
				if m.cached[b] {
					return fmt.Errorf("seq %d: partial block %d is cached", id, b)
				}
				continue
			}
			toks := s.tokens[i*m.bt : (i+1)*m.bt]
			h := blockHash(parent, toks)
			if s.hashes[i] != h {
				return fmt.Errorf("seq %d: block %d hash mismatch", id, i)
			}
			parent = h
			if m.cached[b] {
				if m.hash[b] != h {
					return fmt.Errorf("seq %d: cached block %d has hash %x, want %x", id, b, m.hash[b], h)
				}
				for j, t := range toks {
					if m.toks[b*m.bt+j] != t {
						return fmt.Errorf("seq %d: cached block %d tokens differ", id, b)
					}
				}
			}
		}
	}
	for b := 0; b < n; b++ {
		if refs[b] != m.ref[b] {
			return fmt.Errorf("block %d: ref %d, %d table references", b, m.ref[b], refs[b])
		}
		states := 0
		if onFree[b] > 0 {
			states += onFree[b]
			if m.cached[b] {
				return fmt.Errorf("block %d: free but cached", b)
			}
		}
		if m.ref[b] > 0 {
			states++
		}
		if m.ref[b] < 0 {
			return fmt.Errorf("block %d: negative ref %d", b, m.ref[b])
		}
		if m.onLRU[b] {
			states++
			if !m.cached[b] {
				return fmt.Errorf("block %d: evictable but not cached", b)
			}
		}
		if states != 1 {
			return fmt.Errorf("block %d: in %d states (free %d, ref %d, lru %v)", b, states, onFree[b], m.ref[b], m.onLRU[b])
		}
		if m.cached[b] {
			if got, ok := m.byHash[m.hash[b]]; !ok || got != b {
				return fmt.Errorf("block %d: cached but map says %d,%v", b, got, ok)
			}
		}
	}
	for h, b := range m.byHash {
		if b < 0 || b >= n || !m.cached[b] || m.hash[b] != h {
			return fmt.Errorf("map entry %x -> %d is stale", h, b)
		}
	}
	if m.Free()+m.Used() != n {
		return fmt.Errorf("free %d + used %d != %d", m.Free(), m.Used(), n)
	}
	return nil
}
