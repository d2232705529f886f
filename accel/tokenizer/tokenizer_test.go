package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/synth"
)

// synthMetadata is the tokenizer metadata synth writes, for a vocab of n.
func synthMetadata(t testing.TB, n int) *gguf.Metadata {
	t.Helper()
	v, err := synth.NewVocab(n)
	if err != nil {
		t.Fatal(err)
	}
	var md gguf.Metadata
	md.Set("tokenizer.ggml.model", gguf.StringValue("llama"))
	md.Set("tokenizer.ggml.tokens", gguf.StringsValue(v.Tokens))
	md.Set("tokenizer.ggml.scores", gguf.Float32sValue(v.Scores))
	md.Set("tokenizer.ggml.token_type", gguf.Int32sValue(v.Types))
	md.Set("tokenizer.ggml.bos_token_id", gguf.Uint32Value(synth.BOSToken))
	md.Set("tokenizer.ggml.eos_token_id", gguf.Uint32Value(synth.EOSToken))
	md.Set("tokenizer.ggml.eot_token_id", gguf.Uint32Value(synth.IMEndToken))
	md.Set("tokenizer.ggml.unknown_token_id", gguf.Uint32Value(synth.UnknownToken))
	md.Set("tokenizer.ggml.add_bos_token", gguf.BoolValue(true))
	md.Set("tokenizer.ggml.add_eos_token", gguf.BoolValue(false))
	return &md
}

func synthTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tk, err := FromGGUF(synthMetadata(t, 1024))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestSynthModelFile(t *testing.T) {
	shape, err := synth.LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := synth.Write(&b, synth.Options{Shape: shape, Quant: gguf.Q8_0}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromGGUF(&f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Model() != ModelSPM || tk.BOS() != synth.BOSToken || tk.EOS() != synth.EOSToken ||
		tk.EOT() != synth.IMEndToken || tk.Unknown() != synth.UnknownToken || !tk.AddBOS() || tk.AddEOS() ||
		!tk.AddSpacePrefix() || tk.Padding() != -1 {
		t.Fatalf("specials: bos %d eos %d eot %d unk %d pad %d addbos %v addeos %v",
			tk.BOS(), tk.EOS(), tk.EOT(), tk.Unknown(), tk.Padding(), tk.AddBOS(), tk.AddEOS())
	}
	if !tk.IsEOG(synth.EOSToken) || !tk.IsEOG(synth.IMEndToken) || tk.IsEOG(synth.BOSToken) {
		t.Fatal("IsEOG")
	}
	ids := tk.Encode("hello world", EncodeOptions{AddSpecial: true})
	if ids[0] != synth.BOSToken {
		t.Fatalf("no BOS: %v", ids)
	}
	if got := tk.Decode(ids); got != "hello world" {
		t.Fatalf("decode %q", got)
	}
}

var roundTrip = []string{
	"", " ", "  ", "a", "hello", "hello world", " leading", "trailing ", "  two  spaces  ",
	"The quick brown fox jumps over the lazy dog.", "x=1; y=[2,3]; {z: 'q'} <s> </s> <unk> <|im_start|>",
	"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
	"please answer the question: what is the data?", "bacadafagahajakalamanapa",
}

func TestSynthRoundTrip(t *testing.T) {
	tk := synthTokenizer(t)
	for _, s := range roundTrip {
		ids := tk.Encode(s, EncodeOptions{})
		for _, id := range ids {
			if id == synth.UnknownToken || tk.Type(id) == TypeControl {
				t.Errorf("%q: unexpected special token %d in %v", s, id, ids)
			}
		}
		if got := tk.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
		}
	}
	// Pieces reachable by pairwise merges are merged: ▁ b a → ▁ ba →
	// ▁ba. (synth's whole-word pieces such as "▁hello" are not reachable:
	// the vocabulary lacks the intermediate pieces "▁h", "▁he", ….)
	ids := tk.Encode("ba", EncodeOptions{})
	if want := []int32{mustID(t, tk, "▁ba")}; !slices.Equal(ids, want) {
		t.Fatalf("ba: %v, want %v", ids, want)
	}
	// Characters outside the vocabulary (no byte tokens) are <unk>, one each.
	ids = tk.Encode("aé😀b", EncodeOptions{})
	if !slices.Equal(ids, []int32{mustID(t, tk, "▁a"), 0, 0, mustID(t, tk, "b")}) {
		t.Fatalf("unk: %v", ids)
	}
}

func mustID(t testing.TB, tk *Tokenizer, s string) int32 {
	t.Helper()
	id, ok := tk.Token(s)
	if !ok {
		t.Fatalf("no token %q", s)
	}
	return id
}

func TestSpecialTokens(t *testing.T) {
	tk := synthTokenizer(t)
	text := "<|im_start|>user hi<|im_end|>"
	ids := tk.Encode(text, EncodeOptions{ParseSpecial: true, AddSpecial: true})
	// BOS, <|im_start|>, then " user hi" (space prefix after a special
	// token, as llama.cpp), <|im_end|>.
	want := []int32{synth.BOSToken, synth.IMStartToken}
	want = append(want, tk.Encode("user hi", EncodeOptions{})...)
	want = append(want, synth.IMEndToken)
	if !slices.Equal(ids, want) {
		t.Fatalf("parse special: %v, want %v", ids, want)
	}
	if got := tk.Decode(ids); got != "user hi" {
		t.Fatalf("decode without specials: %q", got)
	}
	var b strings.Builder
	d := tk.NewDecoder(DecodeOptions{Special: true})
	for _, id := range ids {
		b.WriteString(d.Add(id))
	}
	if got := b.String(); got != "<s><|im_start|> user hi<|im_end|>" {
		t.Fatalf("decode with specials: %q", got)
	}
	plain := tk.Encode(text, EncodeOptions{})
	if slices.Contains(plain, synth.IMStartToken) || slices.Contains(plain, synth.IMEndToken) {
		t.Fatalf("control tokens parsed without ParseSpecial: %v", plain)
	}
	if got := tk.Decode(plain); got != text {
		t.Fatalf("plain round trip %q", got)
	}
}

// spmVocab is a hand-made SentencePiece vocabulary with scores.
func spmVocab(byteTokens bool, loScore float32) Config {
	c := Config{Model: ModelSPM, BOS: 1, EOS: 2, EOT: -1, Unknown: 0, Padding: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(tok string, score float32, typ TokenType) {
		c.Tokens = append(c.Tokens, tok)
		c.Scores = append(c.Scores, score)
		c.Types = append(c.Types, typ)
	}
	add("<unk>", 0, TypeUnknown)   // 0
	add("<s>", 0, TypeControl)     // 1
	add("</s>", 0, TypeControl)    // 2
	add("▁", -10, TypeNormal)      // 3
	add("h", -10, TypeNormal)      // 4
	add("e", -10, TypeNormal)      // 5
	add("l", -10, TypeNormal)      // 6
	add("o", -10, TypeNormal)      // 7
	add("ll", -1, TypeNormal)      // 8
	add("lo", loScore, TypeNormal) // 9
	add("he", -2, TypeNormal)      // 10
	add("hell", -3, TypeNormal)    // 11
	add("hello", -4, TypeNormal)   // 12
	add("▁he", -5, TypeNormal)     // 13
	if byteTokens {
		for b := range 256 {
			add(fmt.Sprintf("<0x%02X>", b), 0, TypeByte) // 14 + b
		}
	}
	return c
}

func TestSPMMerges(t *testing.T) {
	tk, err := New(spmVocab(false, -1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []int32
	}{
		// ▁ h e l l o: ll (-1) and then he (-2), hell (-3), hello (-4);
		// "▁hello" is no token.
		{"hello", []int32{3, 12}},
		// ▁ h e l l ▁ l o: ll and lo tie at -1, leftmost first; then he,
		// hell; the stale "▁he" candidate is skipped.
		{"hell lo", []int32{3, 11, 3, 9}},
		// ▁ l l o: ll and lo overlap with equal scores: leftmost wins.
		{"llo", []int32{3, 8, 7}},
		// "▁he" beats nothing else: ▁ h e → he (-2), then ▁he (-5).
		{"he", []int32{13}},
		{"hel", []int32{13, 6}},
		// é is not in the vocabulary and there are no byte tokens.
		{"hé", []int32{3, 4, 0}},
	} {
		got := tk.Encode(tc.in, EncodeOptions{})
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// With "lo" scored above "ll", the overlap goes the other way.
	tk2, err := New(spmVocab(false, -0.5))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk2.Encode("llo", EncodeOptions{}); !slices.Equal(got, []int32{3, 6, 9}) {
		t.Errorf("llo with lo preferred: %v", got)
	}
	if got := tk.Encode("hello", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int32{1, 3, 12}) {
		t.Errorf("AddSpecial: %v", got)
	}
	if got := tk.Encode("", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int32{1}) {
		t.Errorf("empty with AddSpecial: %v", got)
	}
}

func TestSPMByteFallback(t *testing.T) {
	tk, err := New(spmVocab(true, -1))
	if err != nil {
		t.Fatal(err)
	}
	b := func(x byte) int32 { return 14 + int32(x) }
	got := tk.Encode("hé😀", EncodeOptions{})
	want := []int32{3, 4, b(0xC3), b(0xA9), b(0xF0), b(0x9F), b(0x98), b(0x80)}
	if !slices.Equal(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
	if s := tk.Decode(got); s != "hé😀" {
		t.Fatalf("Decode = %q", s)
	}
	for _, s := range []string{"héllo wörld", "日本語 text", "tab\tnew\nline", "\x00\x01"} {
		ids := tk.Encode(s, EncodeOptions{})
		if slices.Contains(ids, 0) {
			t.Errorf("%q: <unk> despite byte tokens: %v", s, ids)
		}
		if got := tk.Decode(ids); got != s {
			t.Errorf("round trip %q: %q", s, got)
		}
	}
}

func TestDecoderIncremental(t *testing.T) {
	tk, err := New(spmVocab(true, -1))
	if err != nil {
		t.Fatal(err)
	}
	b := func(x byte) int32 { return 14 + int32(x) }
	d := tk.NewDecoder(DecodeOptions{})
	var outs []string
	for _, id := range []int32{3, 12, b(0xF0), b(0x9F), b(0x98), b(0x80), 3, 4} {
		outs = append(outs, d.Add(id))
	}
	// The first "▁" is the space prefix and is dropped; the emoji comes
	// out whole on its fourth byte.
	want := []string{"", "hello", "", "", "", "😀", " ", "h"}
	if !slices.Equal(outs, want) {
		t.Fatalf("outputs %q, want %q", outs, want)
	}
	// Invalid bytes: a lone 0xFF at once, a lead byte when the next byte
	// cannot continue it, a truncated sequence at Flush.
	d.Reset()
	for _, step := range []struct {
		id   int32
		want string
	}{
		{b(0xFF), "\uFFFD"},
		{b(0xE2), ""},
		{b(0x82), ""},
		{4, "\uFFFD\uFFFDh"},
		{b(0xF0), ""},
		{b(0x9F), ""},
	} {
		if got := d.Add(step.id); got != step.want {
			t.Fatalf("Add(%d) = %q, want %q", step.id, got, step.want)
		}
	}
	if got := d.Flush(); got != "\uFFFD\uFFFD" {
		t.Fatalf("Flush = %q", got)
	}
	if got := d.Flush(); got != "" {
		t.Fatalf("second Flush = %q", got)
	}
	// Control tokens render as nothing, or as text when asked; out of
	// range ids as nothing.
	if got := tk.Decode([]int32{1, 3, 12, 2, -1, 99999}); got != "hello" {
		t.Fatalf("Decode = %q", got)
	}
}

func TestFromGGUFErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(md *gguf.Metadata)
	}{
		{"no model", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.model", gguf.Uint32Value(1)) }},
		{"bad model", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.model", gguf.StringValue("bert")) }},
		{"scores", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.scores", gguf.Float32sValue([]float32{1})) }},
		{"types", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.token_type", gguf.Int32sValue([]int32{1})) }},
		{"bos", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.bos_token_id", gguf.Uint32Value(5000)) }},
		{"eot", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.eot_token_id", gguf.Uint32Value(1024)) }},
		{"tokens type", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.tokens", gguf.Uint32Value(1)) }},
		{"empty", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.tokens", gguf.StringsValue(nil)) }},
		{"flag type", func(md *gguf.Metadata) { md.Set("tokenizer.ggml.add_bos_token", gguf.Uint32Value(1)) }},
	} {
		md := synthMetadata(t, 1024)
		tc.edit(md)
		if _, err := FromGGUF(md); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	md := synthMetadata(t, 1024)
	md.Set("tokenizer.ggml.scores", gguf.Float32sValue([]float32{1}))
	if _, err := FromGGUF(md); !errors.Is(err, ErrVocab) {
		t.Errorf("length mismatch is not ErrVocab: %v", err)
	}
	var empty gguf.Metadata
	if _, err := FromGGUF(&empty); !errors.Is(err, gguf.ErrNoKey) {
		t.Errorf("empty metadata: %v", err)
	}
	if _, err := New(Config{Model: ModelBPE, Tokens: []string{"a"}, Merges: []string{"ab"}, BOS: -1, EOS: -1, EOT: -1, Unknown: -1, Padding: -1}); !errors.Is(err, ErrVocab) {
		t.Errorf("bad merge: %v", err)
	}
}

// englishKiB is about 1 KiB of English text.
var englishKiB = strings.Repeat("The quick brown fox jumps over the lazy dog while the farmer reads "+
	"a long letter about water, animals and the weather in the old house near the river. ", 7)[:1024]

func BenchmarkEncodeSPM(b *testing.B) {
	tk := synthTokenizer(b)
	b.SetBytes(int64(len(englishKiB)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Encode(englishKiB, EncodeOptions{AddSpecial: true})
	}
}

func BenchmarkDecodeSPM(b *testing.B) {
	tk := synthTokenizer(b)
	ids := tk.Encode(englishKiB, EncodeOptions{})
	b.ReportAllocs()
	for b.Loop() {
		tk.Decode(ids)
	}
}

func FuzzEncodeDecode(f *testing.F) {
	tk := synthTokenizer(f)
	for _, s := range roundTrip {
		f.Add(s, false)
	}
	f.Add("<|im_start|>user\nhé😀<|im_end|>", true)
	f.Add("\xff\xfe abc", false)
	f.Fuzz(func(t *testing.T, s string, special bool) { checkSPM(t, tk, s, special) })
}

// replaceInvalid is what Decode should make of raw bytes: valid sequences
// kept, each other byte U+FFFD.
func replaceInvalid(p []byte) string {
	var b strings.Builder
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n <= 1 {
			b.WriteString("\uFFFD")
			n = 1
		} else {
			b.Write(p[:n])
		}
		p = p[n:]
	}
	return b.String()
}

func FuzzDecoder(f *testing.F) {
	tk, err := New(spmVocab(true, -1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("\xf0\x9f\x98\x80"))
	f.Add([]byte("\xe2\x82\xac\xff\xc3"))
	f.Add([]byte("abc\xed\xa0\x80"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoder(t, tk, data) })
}

// checkSPM: Encode never gives out-of-range ids, Decode and Decoder agree
// and give valid UTF-8, and printable ASCII text round trips.
func checkSPM(t *testing.T, tk *Tokenizer, s string, special bool) {
	t.Helper()
	ids := tk.Encode(s, EncodeOptions{ParseSpecial: special})
	for _, id := range ids {
		if id < 0 || int(id) >= tk.VocabSize() {
			t.Fatalf("id %d out of range", id)
		}
	}
	out := tk.Decode(ids)
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8 %q", out)
	}
	d := tk.NewDecoder(DecodeOptions{})
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(d.Add(id))
	}
	b.WriteString(d.Flush())
	if b.String() != out {
		t.Fatalf("Decoder %q, Decode %q", b.String(), out)
	}
	if special || !utf8.ValidString(s) {
		return
	}
	for _, r := range s {
		if r < ' ' || r > '~' {
			return // not in the vocabulary
		}
	}
	if out != s {
		t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, out, ids)
	}
}

// checkDecoder feeds data as byte tokens of the spmVocab(true, …)
// vocabulary: every output is valid UTF-8, Decode agrees, and the text is
// the bytes with each invalid byte as U+FFFD.
func checkDecoder(t *testing.T, tk *Tokenizer, data []byte) {
	t.Helper()
	d := tk.NewDecoder(DecodeOptions{})
	var b strings.Builder
	ids := make([]int32, len(data))
	for i, x := range data {
		ids[i] = 14 + int32(x)
		s := d.Add(ids[i])
		if !utf8.ValidString(s) {
			t.Fatalf("Add gave invalid UTF-8 %q", s)
		}
		b.WriteString(s)
	}
	s := d.Flush()
	if !utf8.ValidString(s) {
		t.Fatalf("Flush gave invalid UTF-8 %q", s)
	}
	b.WriteString(s)
	if got := tk.Decode(ids); got != b.String() {
		t.Fatalf("Decode %q, Decoder %q", got, b.String())
	}
	if len(data) > 0 && data[0] == ' ' {
		data = data[1:] // the space prefix is dropped
	}
	if want := replaceInvalid(data); b.String() != want {
		t.Fatalf("decoded %q, want %q", b.String(), want)
	}
}

// randomText returns a string mixing printable ASCII, spaces, special
// token texts, multi-byte characters and invalid bytes.
func randomText(r *rand.Rand) string {
	parts := []string{" ", "  ", "a", "e", "the", "ba", "x", "!", "<s>", "<|im_start|>", "<|im_end|>", "\n",
		"é", "日本", "😀", "\xff", "\xf0\x9f", "'s", "'LL", "123456", "\t", "\r\n"}
	var b strings.Builder
	for range r.IntN(24) {
		if r.IntN(3) == 0 {
			b.WriteByte(byte(' ' + r.IntN(95)))
		} else {
			b.WriteString(parts[r.IntN(len(parts))])
		}
	}
	return b.String()
}

// TestRandomProperties runs the fuzz properties over seeded random inputs,
// so that plain go test covers them.
func TestRandomProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	spm := synthTokenizer(t)
	bytesTk, err := New(spmVocab(true, -1))
	if err != nil {
		t.Fatal(err)
	}
	bpes := []*Tokenizer{fullBPE(t, "default"), fullBPE(t, "llama3"), fullBPE(t, "qwen2")}
	for range 3000 {
		s := randomText(r)
		checkSPM(t, spm, s, r.IntN(2) == 0)
		checkSPM(t, bytesTk, s, false)
		checkBPE(t, bpes, s)
		data := make([]byte, r.IntN(12))
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		checkDecoder(t, bytesTk, data)
	}
}

func TestConcurrentUse(t *testing.T) {
	tk := synthTokenizer(t)
	want := tk.Encode(englishKiB, EncodeOptions{})
	done := make(chan []int32)
	for range 4 {
		go func() { done <- tk.Encode(englishKiB, EncodeOptions{}) }()
	}
	for range 4 {
		if got := <-done; !slices.Equal(got, want) {
			t.Fatal("concurrent Encode differs")
		}
	}
	if got := tk.Decode(want); got != englishKiB {
		t.Fatalf("1 KiB round trip: %q", got)
	}
}

func TestDecodeKeepSpaceAndDuplicates(t *testing.T) {
	c := spmVocab(false, -1)
	c.Tokens = append(c.Tokens, "he") // duplicate of 10: the last wins
	c.Scores = append(c.Scores, -2)
	c.Types = append(c.Types, TypeNormal)
	tk, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tk.Token("he"); id != 14 {
		t.Fatalf("duplicate: %d", id)
	}
	ids := []int32{3, 12}
	if got := tk.DecodeWith(ids, DecodeOptions{KeepSpace: true}); got != " hello" {
		t.Fatalf("KeepSpace: %q", got)
	}
	d := tk.NewDecoder(DecodeOptions{KeepSpace: true})
	if got := d.Add(3) + d.Add(12); got != " hello" {
		t.Fatalf("Decoder KeepSpace: %q", got)
	}
	if got := tk.Decode([]int32{1, 3, 12}); got != "hello" {
		t.Fatalf("after BOS: %q", got)
	}
}

func TestUserDefinedAndNoSpacePrefix(t *testing.T) {
	c := spmVocab(false, -1)
	c.Tokens = append(c.Tokens, "<tool>")
	c.Scores = append(c.Scores, 0)
	c.Types = append(c.Types, TypeUserDefined) // 14
	c.AddSpacePrefix = false
	tk, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	// User-defined tokens are recognized without ParseSpecial; without
	// add_space_prefix no "▁" is prepended, also after a special token.
	got := tk.Encode("hello<tool>he", EncodeOptions{})
	if want := []int32{12, 14, 10}; !slices.Equal(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
	if s := tk.Decode(got); s != "hello<tool>he" {
		t.Fatalf("Decode = %q", s)
	}
	if s := tk.Decode([]int32{3, 12}); s != " hello" {
		t.Fatalf("no space prefix: leading space dropped: %q", s)
	}
}
