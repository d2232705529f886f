package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendPiece appends the bytes that token id stands for: "▁" as a space
// and byte tokens as their byte (ModelSPM), GPT-2 runes as their bytes
// (ModelBPE), user-defined tokens as written, control and unknown tokens
// only if special. Out-of-range ids append nothing.
func (t *Tokenizer) appendPiece(dst []byte, id int32, special bool) []byte {
	if id < 0 || int(id) >= len(t.cfg.Tokens) {
		return dst
	}
	tok := t.cfg.Tokens[id]
	switch t.Type(id) {
	case TypeControl, TypeUnknown:
		if special {
			dst = append(dst, tok...)
		}
		return dst
	case TypeUserDefined:
		return append(dst, tok...)
	case TypeByte:
		if t.cfg.Model == ModelSPM && len(tok) == 6 && strings.HasPrefix(tok, "<0x") && tok[5] == '>' {
			if b, err := strconv.ParseUint(tok[3:5], 16, 8); err == nil {
				return append(dst, byte(b))
			}
		}
	case TypeUnused:
		return dst
	}
	if t.cfg.Model == ModelSPM {
		for {
			i := strings.Index(tok, spaceMark)
			if i < 0 {
				break
			}
			dst = append(dst, tok[:i]...)
			dst = append(dst, ' ')
			tok = tok[i+len(spaceMark):]
		}
		return append(dst, tok...)
	}
	for _, r := range tok {
		if r < rune(len(unicodeToByte)) && unicodeToByte[r] >= 0 {
			dst = append(dst, byte(unicodeToByte[r]))
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// DecodeOptions select how tokens are rendered.
type DecodeOptions struct {
	// Special renders control tokens as their text ("<|im_end|>")
	// instead of nothing.
	Special bool
	// KeepSpace keeps the leading space of the first rendered piece,
	// which is otherwise dropped when AddSpacePrefix. Use it when the
	// tokens continue earlier text (streaming a completion after a
	// prompt), where that space is real.
	KeepSpace bool
}

// Decode returns the text of ids with the zero DecodeOptions: without
// control tokens, and with the leading space of the first rendered piece
// dropped when AddSpacePrefix. Bytes that do not form valid UTF-8 become
// U+FFFD.
//
// llama.cpp's llama_detokenize differs in one case: it drops the space
// only from the very first token, so after a BOS (control, rendered as
// nothing) the next piece keeps its space; here the first rendered piece
// loses it, so that Decode(Encode(s, AddSpecial)) == s.
func (t *Tokenizer) Decode(ids []int32) string {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith is Decode with options.
func (t *Tokenizer) DecodeWith(ids []int32, opts DecodeOptions) string {
	var buf []byte
	started := opts.KeepSpace
	for _, id := range ids {
		buf = t.appendPiece(buf, id, opts.Special)
		if !started && len(buf) > 0 {
			started = true
			if t.cfg.AddSpacePrefix && buf[0] == ' ' {
				buf = buf[1:]
			}
		}
	}
	if utf8.Valid(buf) {
		return string(buf)
	}
	out, _ := appendValid(nil, buf, true)
	return string(out)
}

// Decoder decodes a stream of tokens one at a time, as they are
// generated, and returns only complete, valid UTF-8 text. It is not safe
// for concurrent use.
type Decoder struct {
	t       *Tokenizer
	opts    DecodeOptions
	started bool   // a piece has been rendered (the space prefix is handled)
	pending []byte // bytes held back: an incomplete UTF-8 sequence
	out     []byte
}

// NewDecoder returns a Decoder that renders tokens as DecodeWith with opts
// does.
func (t *Tokenizer) NewDecoder(opts DecodeOptions) *Decoder {
	return &Decoder{t: t, opts: opts, started: opts.KeepSpace}
}

// Add decodes one token and returns the text that is now complete: valid
// UTF-8, with a trailing partial multi-byte sequence held back until a
// later token completes it, and each byte that can no longer be part of a
// valid sequence replaced by U+FFFD.
func (d *Decoder) Add(id int32) string {
	n := len(d.pending)
	d.pending = d.t.appendPiece(d.pending, id, d.opts.Special)
	if !d.started && len(d.pending) > n {
		d.started = true
		if d.t.cfg.AddSpacePrefix && d.pending[n] == ' ' {
			d.pending = append(d.pending[:n], d.pending[n+1:]...)
		}
	}
	return d.drain(false)
}

// Flush returns what is held back, as U+FFFD for each byte, and resets
// the pending state (the leading-space state is kept).
func (d *Decoder) Flush() string { return d.drain(true) }

// Reset makes d ready for a new sequence.
func (d *Decoder) Reset() {
	d.started = d.opts.KeepSpace
	d.pending = d.pending[:0]
}

func (d *Decoder) drain(final bool) string {
	var rest []byte
	d.out, rest = appendValid(d.out[:0], d.pending, final)
	d.pending = append(d.pending[:0], rest...)
	return string(d.out)
}

// appendValid appends the valid UTF-8 of p to dst, each byte that cannot
// start or continue a valid sequence as U+FFFD. Unless final, it stops
// before a trailing incomplete sequence, which it returns.
func appendValid(dst, p []byte, final bool) ([]byte, []byte) {
	for len(p) > 0 {
		if !final && !utf8.FullRune(p) {
			break
		}
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size <= 1 {
			dst = append(dst, "\uFFFD"...)
			size = 1
		} else {
			dst = append(dst, p[:size]...)
		}
		p = p[size:]
	}
	return dst, p
}
