package synth

import (
	"fmt"
	"strings"
)

// Token types of tokenizer.ggml.token_type, as llama.cpp's
// llama_token_type.
const (
	TokenNormal  int32 = 1
	TokenUnknown int32 = 2
	TokenControl int32 = 3
)

// Special token ids. The pieces follow them, from FirstPiece.
//
// There are no byte-fallback tokens (<0x00>..<0xFF>): with random weights
// every token is about equally likely, and byte tokens would make the
// model emit control characters and invalid UTF-8. Without them every
// token a model can generate, apart from the control tokens that end a
// turn, is printable text; characters outside the vocabulary tokenize as
// <unk>.
const (
	UnknownToken = 0 // <unk>
	BOSToken     = 1 // <s>
	EOSToken     = 2 // </s>
	IMStartToken = 3 // <|im_start|>, ChatML turn start
	IMEndToken   = 4 // <|im_end|>, ChatML turn end (end-of-turn token)
	FirstPiece   = 5
)

// MinVocabSize is the smallest vocabulary: the control tokens, "▁" and the
// 94 printable ASCII characters other than space.
const MinVocabSize = FirstPiece + 1 + 94

// ChatTemplate is the Jinja chat template written to tokenizer.chat_template:
// ChatML, as Qwen and SmolLM use. llama.cpp recognizes it by <|im_start|>.
const ChatTemplate = "{% for message in messages %}" +
	"{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
	"{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// spaceMark is SentencePiece's U+2581 LOWER ONE EIGHTH BLOCK, which stands
// for a space at the start of a piece.
const spaceMark = "▁"

// Vocab is a tokenizer vocabulary for tokenizer.ggml.*: parallel slices
// indexed by token id.
type Vocab struct {
	// Tokens are the token strings (tokenizer.ggml.tokens).
	Tokens []string
	// Scores are the SentencePiece scores (tokenizer.ggml.scores): 0 for
	// control tokens, then -1, -2, … for the pieces, so earlier pieces win merges.
	Scores []float32
	// Types are the token types (tokenizer.ggml.token_type).
	Types []int32
}

// commonWords are the first pieces after the single characters, so common
// English words tokenize as one piece.
var commonWords = strings.Fields(`the of and to in is it you that he was for on are with as
I his they be at one have this from or had by hot word but what some we can out other were
all there when up use your how said an each she which do their time if will way about many
then them write would like so these her long make thing see him two has look more day could
go come did number sound no most people my over know water than call first who may down side
been now find any new work part take get place made live where after back little only round
man year came show every good me give our under name very through just form sentence great
think say help low line differ turn cause much mean before move right boy old too same tell
does set three want air well also play small end put home read hand port large spell add even
land here must big high such follow act why ask men change went light kind off need house
picture try us again animal point mother world near build self earth father hello model chat
data text token random answer question yes thanks please`)

// NewVocab builds the vocabulary of size n (at least MinVocabSize):
// control tokens, "▁", printable ASCII characters, common
// words with and without a leading "▁", then letter syllables of growing
// length, each with and without "▁", until n tokens.
func NewVocab(n int) (Vocab, error) {
	if n < MinVocabSize {
		return Vocab{}, fmt.Errorf("synth: vocab size %d is below the minimum %d", n, MinVocabSize)
	}
	v := Vocab{
		Tokens: make([]string, 0, n),
		Scores: make([]float32, 0, n),
		Types:  make([]int32, 0, n),
	}
	seen := make(map[string]bool, n)
	add := func(tok string, typ int32) bool {
		if len(v.Tokens) == n || seen[tok] {
			return len(v.Tokens) < n
		}
		seen[tok] = true
		score := float32(0)
		if typ == TokenNormal {
			score = -1 - float32(len(v.Tokens)-FirstPiece)
		}
		v.Tokens = append(v.Tokens, tok)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
		return len(v.Tokens) < n
	}
	add("<unk>", TokenUnknown)
	add("<s>", TokenControl)
	add("</s>", TokenControl)
	add("<|im_start|>", TokenControl)
	add("<|im_end|>", TokenControl)
	add(spaceMark, TokenNormal)
	for c := byte('!'); c <= '~'; c++ {
		add(string(c), TokenNormal)
	}
	for _, w := range commonWords {
		add(spaceMark+w, TokenNormal)
		add(w, TokenNormal)
	}
	// Syllables: consonant-vowel patterns of growing length. The list is
	// far longer than any vocabulary needs (more than 10^6 entries).
	const consonants, vowels = "bcdfghjklmnprstvwyz", "aeiou"
	patterns := []string{"V", "CV", "VC", "CVC", "CVCV", "VCVC", "CVCVC", "CVCVCV"}
	for _, p := range patterns {
		more := forEachWord(p, consonants, vowels, func(w string) bool {
			return add(spaceMark+w, TokenNormal) && add(w, TokenNormal)
		})
		if !more {
			break
		}
	}
	if len(v.Tokens) != n {
		return Vocab{}, fmt.Errorf("synth: vocab size %d is too large (made %d tokens)", n, len(v.Tokens))
	}
	return v, nil
}

// forEachWord calls f with every word of the pattern (C: a consonant, V: a
// vowel) in lexical order while f returns true, and reports whether f
// always did.
func forEachWord(pattern, consonants, vowels string, f func(string) bool) bool {
	buf := make([]byte, len(pattern))
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == len(pattern) {
			return f(string(buf))
		}
		letters := consonants
		if pattern[i] == 'V' {
			letters = vowels
		}
		for j := range len(letters) {
			buf[i] = letters[j]
			if !rec(i + 1) {
				return false
			}
		}
		return true
	}
	return rec(0)
}
