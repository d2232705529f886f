package tokenizer

import (
	"strings"
)

// EncodeOptions select what Encode adds and recognizes.
type EncodeOptions struct {
	// AddSpecial adds BOS and/or EOS as the vocabulary asks
	// (add_bos_token, add_eos_token).
	AddSpecial bool
	// ParseSpecial recognizes control tokens written literally in the
	// text ("<|im_start|>"), as for a rendered chat template. Without it
	// they are tokenized as text. User-defined tokens are always
	// recognized.
	ParseSpecial bool
}

// fragment is a piece of the input: text to tokenize, or a special token.
type fragment struct {
	text string
	tok  int32 // -1 for text
}

// partition splits text at special tokens.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	var out []fragment
	start := 0
	for i := 0; i < len(text); {
		id := int32(-1)
		for _, s := range t.specials[text[i]] {
			if !parseSpecial && t.Type(s) != TypeUserDefined {
				continue
			}
			if strings.HasPrefix(text[i:], t.cfg.Tokens[s]) {
				id = s
				break
			}
		}
		if id < 0 {
			i++
			continue
		}
		if start < i {
			out = append(out, fragment{text: text[start:i], tok: -1})
		}
		out = append(out, fragment{tok: id})
		i += len(t.cfg.Tokens[id])
		start = i
	}
	if start < len(text) {
		out = append(out, fragment{text: text[start:], tok: -1})
	}
	return out
}

// Encode returns the token ids of text.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) []int32 {
	out := make([]int32, 0, len(text)/3+2)
	if opts.AddSpecial && t.cfg.AddBOS {
		out = append(out, t.cfg.BOS)
	}
	prevSpecial := true
	var s spmSession
	var b bpeSession
	for _, f := range t.partition(text, opts.ParseSpecial) {
		if f.tok >= 0 {
			out = append(out, f.tok)
			prevSpecial = true
			continue
		}
		if t.cfg.Model == ModelSPM {
			txt := f.text
			if t.cfg.AddSpacePrefix && prevSpecial {
				txt = " " + txt
			}
			out = s.tokenize(t, strings.ReplaceAll(txt, " ", spaceMark), out)
		} else {
			out = b.tokenize(t, f.text, out)
		}
		prevSpecial = false
	}
	if opts.AddSpecial && t.cfg.AddEOS {
		out = append(out, t.cfg.EOS)
	}
	return out
}

// spaceMark is SentencePiece's U+2581, which stands for a space.
const spaceMark = "▁"

// symbol is a span of the text in a doubly linked list of adjacent spans.
type symbol struct {
	off, n     int
	prev, next int
}

// bigram is a candidate merge of symbols left and right (adjacent). For
// SPM, better is a higher score; for BPE a lower rank (stored negated).
type bigram struct {
	left, right int32
	score       float32
	rank        int32
	size        int32
}

// bigramHeap is a max-heap on (score, -rank), then the smaller left.
type bigramHeap []bigram

func (h bigramHeap) less(i, j int) bool { // i before j
	a, b := &h[i], &h[j]
	if a.score != b.score {
		return a.score > b.score
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

func (h *bigramHeap) push(b bigram) {
	*h = append(*h, b)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *bigramHeap) pop() bigram {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// utf8Len is the length of the UTF-8 sequence starting with b, as
// llama.cpp's unicode_len_utf8 (1 for continuation and invalid bytes).
func utf8Len(b byte) int {
	switch {
	case b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	}
	return 4
}

// spmSession holds the buffers of one SentencePiece-style encode.
type spmSession struct {
	syms []symbol
	heap bigramHeap
	text string
	t    *Tokenizer
}

func (s *spmSession) tokenize(t *Tokenizer, text string, out []int32) []int32 {
	s.t, s.text = t, text
	s.syms = s.syms[:0]
	s.heap = s.heap[:0]
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		i := len(s.syms)
		s.syms = append(s.syms, symbol{off: off, n: n, prev: i - 1, next: i + 1})
		off += n
	}
	if len(s.syms) == 0 {
		return out
	}
	s.syms[len(s.syms)-1].next = -1
	for i := 1; i < len(s.syms); i++ {
		s.addBigram(i-1, i)
	}
	for len(s.heap) > 0 {
		b := s.heap.pop()
		left, right := int(b.left), int(b.right)
		l, r := &s.syms[left], &s.syms[right]
		if l.n == 0 || r.n == 0 || l.next != right || l.n+r.n != int(b.size) {
			continue // outdated: one side was merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = left
		}
		s.addBigram(l.prev, left)
		s.addBigram(left, l.next)
	}
	for i := 0; i >= 0; i = s.syms[i].next {
		out = s.emit(i, out)
	}
	return out
}

func (s *spmSession) addBigram(left, right int) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.syms[left], s.syms[right]
	text := s.text[l.off : r.off+r.n]
	id, ok := s.t.index[text]
	if !ok {
		return
	}
	s.heap.push(bigram{left: int32(left), right: int32(right), score: s.t.Score(id), size: int32(len(text))})
}

// emit appends the symbol i: its token, or the fallback for a single
// character that is not one. Merged symbols are always tokens, since only
// pairs whose concatenation is a token are merged, so llama.cpp's
// rev_merge re-splitting is never needed here.
func (s *spmSession) emit(i int, out []int32) []int32 {
	sym := s.syms[i]
	text := s.text[sym.off : sym.off+sym.n]
	if id, ok := s.t.index[text]; ok {
		return append(out, id)
	}
	return s.fallback(text, out)
}

// fallback emits text as byte tokens, or one <unk> per character when the
// vocabulary has no byte tokens.
func (s *spmSession) fallback(text string, out []int32) []int32 {
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		all := true
		for j := range n {
			if s.t.bytes[text[off+j]] < 0 {
				all = false
				break
			}
		}
		if all {
			for j := range n {
				out = append(out, s.t.bytes[text[off+j]])
			}
		} else if s.t.cfg.Unknown >= 0 {
			out = append(out, s.t.cfg.Unknown)
		}
		off += n
	}
	return out
}
