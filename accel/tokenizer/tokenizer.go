package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/outpost-iot/outpost/accel/gguf"
)

// TokenType is a tokenizer.ggml.token_type value, as llama.cpp's
// llama_token_type.
type TokenType int32

// Token types.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// Model names of tokenizer.ggml.model.
const (
	ModelSPM = "llama" // SentencePiece-style BPE with scores
	ModelBPE = "gpt2"  // byte-level BPE with merges
)

// Config is a vocabulary given as plain slices indexed by token id, for
// New. Ids that a vocabulary lacks are -1.
type Config struct {
	// Model is ModelSPM or ModelBPE.
	Model string
	// Pre is the BPE pre-tokenizer name (tokenizer.ggml.pre); see the
	// package comment. Ignored for ModelSPM.
	Pre string
	// Tokens are the token strings.
	Tokens []string
	// Scores are the merge scores (ModelSPM); nil means all 0.
	Scores []float32
	// Types are the token types; nil means all TypeNormal.
	Types []TokenType
	// Merges are the BPE merges, "left right", best first (ModelBPE).
	Merges []string
	// Special token ids, -1 if none.
	BOS, EOS, EOT, Unknown, Padding int32
	// AddBOS and AddEOS say whether Encode with AddSpecial adds BOS/EOS.
	AddBOS, AddEOS bool
	// AddSpacePrefix prepends a space to the text (ModelSPM) and drops
	// it again when decoding.
	AddSpacePrefix bool
}

// Tokenizer encodes text to token ids and decodes them back. It is
// immutable after New and safe for concurrent use.
type Tokenizer struct {
	cfg    Config
	index  map[string]int32
	bytes  [256]int32 // byte token of each byte (SPM "<0xNN>"), -1 if none
	merges map[pair]int
	pre    preTokenizer
	// specials are the tokens split out of the text before the model
	// runs, by first byte, longest first.
	specials [256][]int32
}

type pair struct{ a, b string }

// ErrVocab is wrapped by the errors of New and FromGGUF for an invalid
// vocabulary.
var ErrVocab = errors.New("tokenizer: invalid vocabulary")

func vocabErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVocab, fmt.Sprintf(format, args...))
}

// New builds a tokenizer from c, checking that the slices agree in length,
// special ids are in range and merges are well formed.
func New(c Config) (*Tokenizer, error) {
	n := len(c.Tokens)
	if n == 0 {
		return nil, vocabErr("no tokens")
	}
	if n > 1<<31-1 {
		return nil, vocabErr("%d tokens is too many", n)
	}
	switch c.Model {
	case ModelSPM, ModelBPE:
	default:
		return nil, vocabErr("unsupported model %q (want %q or %q)", c.Model, ModelSPM, ModelBPE)
	}
	if c.Scores != nil && len(c.Scores) != n {
		return nil, vocabErr("%d scores for %d tokens", len(c.Scores), n)
	}
	if c.Types != nil && len(c.Types) != n {
		return nil, vocabErr("%d token types for %d tokens", len(c.Types), n)
	}
	for _, s := range []struct {
		name string
		id   int32
	}{{"bos", c.BOS}, {"eos", c.EOS}, {"eot", c.EOT}, {"unknown", c.Unknown}, {"padding", c.Padding}} {
		if s.id < -1 || int64(s.id) >= int64(n) {
			return nil, vocabErr("%s token id %d out of range [0, %d)", s.name, s.id, n)
		}
	}
	if c.AddBOS && c.BOS < 0 {
		return nil, vocabErr("add_bos_token set but there is no bos token")
	}
	if c.AddEOS && c.EOS < 0 {
		return nil, vocabErr("add_eos_token set but there is no eos token")
	}
	t := &Tokenizer{cfg: c, index: make(map[string]int32, n)}
	for i, tok := range c.Tokens {
		// The last of duplicate tokens wins, as in llama.cpp's
		// token_to_id; empty tokens can never match.
		if tok != "" {
			t.index[tok] = int32(i)
		}
	}
	for b := range 256 {
		t.bytes[b] = -1
		if c.Model == ModelSPM {
			if id, ok := t.index[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.bytes[b] = id
			} else if id, ok := t.index[string([]byte{byte(b)})]; ok {
				t.bytes[b] = id
			}
		}
	}
	if c.Model == ModelBPE {
		t.merges = make(map[pair]int, len(c.Merges))
		for r, m := range c.Merges {
			i := -1
			if len(m) > 1 {
				i = strings.IndexByte(m[1:], ' ')
			}
			if i < 0 {
				return nil, vocabErr("merge %d %q is not \"left right\"", r, m)
			}
			p := pair{m[:i+1], m[i+2:]}
			if _, ok := t.merges[p]; !ok {
				t.merges[p] = r
			}
		}
		t.pre = lookupPre(c.Pre)
	}
	var specials []int32
	for i, tok := range c.Tokens {
		switch t.Type(int32(i)) {
		case TypeControl, TypeUserDefined, TypeUnknown:
			if tok != "" {
				specials = append(specials, int32(i))
			}
		}
	}
	sort.SliceStable(specials, func(i, j int) bool {
		return len(c.Tokens[specials[i]]) > len(c.Tokens[specials[j]])
	})
	for _, id := range specials {
		b := c.Tokens[id][0]
		t.specials[b] = append(t.specials[b], id)
	}
	return t, nil
}

// eotTexts are the end-of-turn token texts llama.cpp recognizes when
// tokenizer.ggml.eot_token_id is absent.
var eotTexts = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "<EOT>": true, "<｜end▁of▁sentence｜>": true,
}

// FromGGUF builds a tokenizer from the tokenizer.ggml.* keys of md.
// Defaults when a key is absent follow llama.cpp: for "llama", bos 1, eos
// 2, unknown 0 (when in range), add_bos_token true, add_space_prefix true;
// for "gpt2", no special ids, add_bos_token false, add_space_prefix false.
// Without eot_token_id, the end-of-turn token is found by its text
// ("<|eot_id|>", "<|im_end|>", "<end_of_turn>", …) as llama.cpp does.
// Metadata of the wrong type gives the gguf lookup errors; an invalid
// vocabulary gives errors wrapping ErrVocab.
func FromGGUF(md *gguf.Metadata) (*Tokenizer, error) {
	var c Config
	var err error
	if c.Model, err = md.String("tokenizer.ggml.model"); err != nil {
		return nil, err
	}
	if c.Tokens, err = md.Strings("tokenizer.ggml.tokens"); err != nil {
		return nil, err
	}
	opt := func(err error) error {
		if errors.Is(err, gguf.ErrNoKey) {
			return nil
		}
		return err
	}
	if c.Scores, err = md.Float32s("tokenizer.ggml.scores"); opt(err) != nil {
		return nil, err
	}
	types, err := md.Int32s("tokenizer.ggml.token_type")
	if opt(err) != nil {
		return nil, err
	}
	if types != nil {
		c.Types = make([]TokenType, len(types))
		for i, ty := range types {
			c.Types[i] = TokenType(ty)
		}
	}
	if c.Merges, err = md.Strings("tokenizer.ggml.merges"); opt(err) != nil {
		return nil, err
	}
	if c.Pre, err = md.String("tokenizer.ggml.pre"); opt(err) != nil {
		return nil, err
	}
	spm := c.Model == ModelSPM
	n := uint64(len(c.Tokens))
	id := func(key string, def int32) (int32, error) {
		v, err := md.Uint("tokenizer.ggml." + key)
		if errors.Is(err, gguf.ErrNoKey) {
			if def >= 0 && uint64(def) < n {
				return def, nil
			}
			return -1, nil
		}
		if err != nil {
			return 0, err
		}
		if v >= n {
			return 0, vocabErr("tokenizer.ggml.%s %d out of range [0, %d)", key, v, n)
		}
		return int32(v), nil
	}
	def := func(v int32) int32 {
		if spm {
			return v
		}
		return -1
	}
	if c.BOS, err = id("bos_token_id", def(1)); err != nil {
		return nil, err
	}
	if c.EOS, err = id("eos_token_id", def(2)); err != nil {
		return nil, err
	}
	if c.Unknown, err = id("unknown_token_id", def(0)); err != nil {
		return nil, err
	}
	if c.EOT, err = id("eot_token_id", -1); err != nil {
		return nil, err
	}
	if c.EOT < 0 {
		// As llama.cpp: find the end-of-turn token by its text.
		for i, tok := range c.Tokens {
			if eotTexts[tok] {
				c.EOT = int32(i)
				break
			}
		}
	}
	if c.Padding, err = id("padding_token_id", -1); err != nil {
		return nil, err
	}
	flag := func(key string, def bool) (bool, error) {
		b, err := md.Bool("tokenizer.ggml." + key)
		if errors.Is(err, gguf.ErrNoKey) {
			return def, nil
		}
		return b, err
	}
	if c.AddBOS, err = flag("add_bos_token", spm && c.BOS >= 0); err != nil {
		return nil, err
	}
	if c.AddEOS, err = flag("add_eos_token", false); err != nil {
		return nil, err
	}
	if c.AddSpacePrefix, err = flag("add_space_prefix", spm); err != nil {
		return nil, err
	}
	return New(c)
}

// Model returns the tokenizer model, ModelSPM or ModelBPE.
func (t *Tokenizer) Model() string { return t.cfg.Model }

// Pre returns the pre-tokenizer name in use (ModelBPE), after defaulting.
func (t *Tokenizer) Pre() string {
	if t.cfg.Model != ModelBPE {
		return ""
	}
	return t.pre.name
}

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.cfg.Tokens) }

// Piece returns the token string of id as stored in the vocabulary
// ("▁" and GPT-2 runes included), or "" if id is out of range.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.cfg.Tokens) {
		return ""
	}
	return t.cfg.Tokens[id]
}

// Score returns the score of id (0 if none or out of range).
func (t *Tokenizer) Score(id int32) float32 {
	if t.cfg.Scores == nil || id < 0 || int(id) >= len(t.cfg.Scores) {
		return 0
	}
	return t.cfg.Scores[id]
}

// Type returns the token type of id (TypeNormal if the vocabulary has no
// types, TypeUndefined if id is out of range).
func (t *Tokenizer) Type(id int32) TokenType {
	if id < 0 || int(id) >= len(t.cfg.Tokens) {
		return TypeUndefined
	}
	if t.cfg.Types == nil {
		return TypeNormal
	}
	return t.cfg.Types[id]
}

// Token returns the id of the token string s.
func (t *Tokenizer) Token(s string) (int32, bool) {
	id, ok := t.index[s]
	return id, ok
}

// BOS returns the beginning-of-sequence token id, -1 if none.
func (t *Tokenizer) BOS() int32 { return t.cfg.BOS }

// EOS returns the end-of-sequence token id, -1 if none.
func (t *Tokenizer) EOS() int32 { return t.cfg.EOS }

// EOT returns the end-of-turn token id, -1 if none.
func (t *Tokenizer) EOT() int32 { return t.cfg.EOT }

// Unknown returns the unknown token id, -1 if none.
func (t *Tokenizer) Unknown() int32 { return t.cfg.Unknown }

// Padding returns the padding token id, -1 if none.
func (t *Tokenizer) Padding() int32 { return t.cfg.Padding }

// AddBOS reports whether Encode with AddSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.cfg.AddBOS }

// AddEOS reports whether Encode with AddSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.cfg.AddEOS }

// AddSpacePrefix reports whether a space is prepended when encoding and
// dropped when decoding.
func (t *Tokenizer) AddSpacePrefix() bool { return t.cfg.AddSpacePrefix }

// IsEOG reports whether id ends generation: EOS or EOT.
func (t *Tokenizer) IsEOG(id int32) bool {
	return id >= 0 && (id == t.cfg.EOS || id == t.cfg.EOT)
}
