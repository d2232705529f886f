package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// byteToUnicode is GPT-2's bytes_to_unicode: printable Latin-1 bytes map
// to themselves, the others to U+0100 onwards in byte order.
var byteToUnicode [256]rune

// unicodeToByte inverts byteToUnicode; runes are all below 0x144.
var unicodeToByte [0x144]int16

func init() {
	n := rune(0)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToUnicode[b] = rune(b)
		} else {
			byteToUnicode[b] = 256 + n
			n++
		}
	}
	for i := range unicodeToByte {
		unicodeToByte[i] = -1
	}
	for b, r := range byteToUnicode {
		unicodeToByte[r] = int16(b)
	}
}

// ByteToUnicode returns the GPT-2 byte-to-unicode table used by byte-level
// BPE vocabularies: entry b is the rune that stands for byte b in token
// strings.
func ByteToUnicode() [256]rune { return byteToUnicode }

// preTokenizer describes one of the hand-written regex splits.
type preTokenizer struct {
	name string
	// llama3 selects the llama-3 family split (case-insensitive
	// contractions, optional non-letter before letters, punctuation with
	// trailing newlines, newline runs); else the GPT-2 split.
	llama3 bool
	// maxDigits bounds a number word (0: unbounded).
	maxDigits int
	// ignoreMerges takes a word that is a whole token as is.
	ignoreMerges bool
}

func lookupPre(name string) preTokenizer {
	switch name {
	case "llama3", "llama-bpe":
		return preTokenizer{name: name, llama3: true, maxDigits: 3, ignoreMerges: true}
	case "qwen2", "qwen2.5", "qwen-2.5", "deepseek-r1-qwen":
		return preTokenizer{name: name, llama3: true, maxDigits: 1}
	case "gpt-2":
		return preTokenizer{name: name}
	}
	return preTokenizer{name: "default"}
}

// split calls f with each word of text (runes rs), as the regex of p.
func (p *preTokenizer) split(rs []rune, f func(start, end int)) {
	n := len(rs)
	get := func(i int) rune {
		if i < n {
			return rs[i]
		}
		return -1
	}
	isL := func(i int) bool { return i < n && unicode.IsLetter(rs[i]) }
	isN := func(i int) bool { return i < n && unicode.IsNumber(rs[i]) }
	isS := func(i int) bool { return i < n && unicode.IsSpace(rs[i]) }
	// spaces matches \s+(?!\S) then \s+ at p: a whitespace run, leaving
	// its last character to a word that follows it. It returns the run's end.
	spaces := func(p int) (int, bool) {
		ws := 0
		for isS(p + ws) {
			ws++
		}
		switch {
		case ws > 1 && p+ws < n:
			return p + ws - 1, true
		case ws > 0:
			return p + ws, true
		}
		return p, false
	}
	other := func(i int) bool { return i < n && !isS(i) && !isL(i) && !isN(i) }
	lower := func(r rune) rune {
		if p.llama3 {
			return unicode.ToLower(r)
		}
		return r
	}
	for pos := 0; pos < n; {
		start := pos
		c := rs[pos]
		// Contractions.
		if c == '\'' && pos+1 < n {
			c1 := lower(get(pos + 1))
			if c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd' {
				f(start, pos+2)
				pos += 2
				continue
			}
			if pos+2 < n {
				c2 := lower(get(pos + 2))
				if (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l') {
					f(start, pos+3)
					pos += 3
					continue
				}
			}
		}
		if p.llama3 {
			// [^\r\n\p{L}\p{N}]?\p{L}+
			if !(c == '\r' || c == '\n' || isN(pos)) && (isL(pos) || isL(pos+1)) {
				pos++
				for isL(pos) {
					pos++
				}
				f(start, pos)
				continue
			}
			// \p{N}{1,max}
			if isN(pos) {
				for k := 0; isN(pos) && (p.maxDigits == 0 || k < p.maxDigits); k++ {
					pos++
				}
				f(start, pos)
				continue
			}
			// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
			q := pos
			if c == ' ' {
				q++
			}
			if other(q) {
				pos = q
				for other(pos) {
					pos++
				}
				for get(pos) == '\r' || get(pos) == '\n' {
					pos++
				}
				f(start, pos)
				continue
			}
			// \s*[\r\n]+ , \s+(?!\S) , \s+
			ws, lastNL := 0, 0
			for isS(pos + ws) {
				r := rs[pos+ws]
				ws++
				if r == '\r' || r == '\n' {
					lastNL = pos + ws
				}
			}
			if lastNL > 0 {
				pos = lastNL
				f(start, pos)
				continue
			}
			if end, ok := spaces(pos); ok {
				pos = end
				f(start, pos)
				continue
			}
		} else {
			q := pos
			if c == ' ' {
				q++
			}
			// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
			var class func(int) bool
			switch {
			case isL(q):
				class = isL
			case isN(q):
				class = isN
			case other(q):
				class = other
			}
			if class != nil {
				pos = q
				for class(pos) {
					pos++
				}
				f(start, pos)
				continue
			}
			// \s+(?!\S) , \s+
			if end, ok := spaces(pos); ok {
				pos = end
				f(start, pos)
				continue
			}
		}
		pos++
		f(start, pos)
	}
}

// bpeSession holds the buffers of one byte-level BPE encode.
type bpeSession struct {
	runes []rune
	word  []byte
	syms  []symbol
	heap  bigramHeap
}

func (s *bpeSession) tokenize(t *Tokenizer, text string, out []int32) []int32 {
	s.runes = s.runes[:0]
	for _, r := range text {
		s.runes = append(s.runes, r)
	}
	// Byte offsets of each rune in text, to map words back to bytes.
	offs := make([]int, 0, len(s.runes)+1)
	for i := range text {
		offs = append(offs, i)
	}
	offs = append(offs, len(text))
	t.pre.split(s.runes, func(a, b int) {
		out = s.word1(t, text[offs[a]:offs[b]], out)
	})
	return out
}

// word1 tokenizes one pre-tokenized word.
func (s *bpeSession) word1(t *Tokenizer, w string, out []int32) []int32 {
	s.word = s.word[:0]
	for i := 0; i < len(w); i++ {
		s.word = utf8.AppendRune(s.word, byteToUnicode[w[i]])
	}
	word := string(s.word)
	if t.pre.ignoreMerges {
		if id, ok := t.index[word]; ok {
			return append(out, id)
		}
	}
	s.syms = s.syms[:0]
	s.heap = s.heap[:0]
	for off := 0; off < len(word); {
		_, n := utf8.DecodeRuneInString(word[off:])
		i := len(s.syms)
		s.syms = append(s.syms, symbol{off: off, n: n, prev: i - 1, next: i + 1})
		off += n
	}
	if len(s.syms) == 0 {
		return out
	}
	s.syms[len(s.syms)-1].next = -1
	add := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := s.syms[left], s.syms[right]
		rank, ok := t.merges[pair{word[l.off : l.off+l.n], word[r.off : r.off+r.n]}]
		if !ok {
			return
		}
		s.heap.push(bigram{left: int32(left), right: int32(right), rank: int32(rank), size: int32(l.n + r.n)})
	}
	for i := 1; i < len(s.syms); i++ {
		add(i-1, i)
	}
	for len(s.heap) > 0 {
		b := s.heap.pop()
		left, right := int(b.left), int(b.right)
		l, r := &s.syms[left], &s.syms[right]
		if l.n == 0 || r.n == 0 || l.next != right || l.n+r.n != int(b.size) {
			continue // outdated
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = left
		}
		add(l.prev, left)
		add(left, l.next)
	}
	for i := 0; i >= 0; i = s.syms[i].next {
		sym := s.syms[i]
		piece := word[sym.off : sym.off+sym.n]
		if id, ok := t.index[piece]; ok {
			out = append(out, id)
			continue
		}
		// Not a token: each character alone, as llama.cpp; <unk> for
		// characters that are not tokens either.
		for _, r := range piece {
			if id, ok := t.index[string(r)]; ok {
				out = append(out, id)
			} else if t.cfg.Unknown >= 0 {
				out = append(out, t.cfg.Unknown)
			}
		}
	}
	return out
}
