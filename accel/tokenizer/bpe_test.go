package tokenizer

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/outpost-iot/outpost/accel/gguf"
)

func TestByteToUnicode(t *testing.T) {
	tab := ByteToUnicode()
	seen := make(map[rune]bool, 256)
	for b, r := range tab {
		if seen[r] {
			t.Fatalf("rune %U twice", r)
		}
		seen[r] = true
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			t.Errorf("byte %#x maps to unprintable %U", b, r)
		}
		if int(unicodeToByte[r]) != b {
			t.Errorf("inverse of %U is %d, want %d", r, unicodeToByte[r], b)
		}
	}
	if len(seen) != 256 {
		t.Fatalf("%d runes", len(seen))
	}
	for b, want := range map[byte]rune{' ': 'Ġ', '\n': 'Ċ', '\t': 'ĉ', 'a': 'a', 0: 'Ā', 0x7F: 'ġ', 0xAD: 'Ń', 0xFF: 'ÿ'} {
		if tab[b] != want {
			t.Errorf("byte %#x → %U, want %U", b, tab[b], want)
		}
	}
}

func splitWords(p preTokenizer, s string) []string {
	rs := []rune(s)
	var out []string
	p.split(rs, func(a, b int) { out = append(out, string(rs[a:b])) })
	return out
}

func TestPreTokenizers(t *testing.T) {
	for _, tc := range []struct {
		pre, in string
		want    []string
	}{
		{"default", "Hello world's  123 !!", []string{"Hello", " world", "'s", " ", " 123", " !!"}},
		// \s+(?!\S) takes the first newline alone, \s+ the second.
		{"default", "WORLD'S 12345\n\nok  ", []string{"WORLD", "'", "S", " 12345", "\n", "\n", "ok", "  "}},
		{"default", "I'll've x", []string{"I", "'ll", "'ve", " x"}},
		{"gpt-2", "a\tb", []string{"a", "\t", "b"}},
		{"llama3", "Hello world's  1234 !!\n\nok", []string{"Hello", " world", "'s", " ", " ", "123", "4", " !!\n\n", "ok"}},
		{"llama-bpe", "WORLD'S (x)\r\n  y", []string{"WORLD", "'S", " (", "x", ")\r\n", " ", " y"}},
		{"llama3", "日本語123abc", []string{"日本語", "123", "abc"}},
		{"llama3", "a \n\n b", []string{"a", " \n\n", " b"}},
		{"qwen2", "x 1234.5", []string{"x", " ", "1", "2", "3", "4", ".", "5"}},
	} {
		p := lookupPre(tc.pre)
		if got := splitWords(p, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: %q, want %q", tc.pre, tc.in, got, tc.want)
		}
	}
	if lookupPre("something-new").name != "default" {
		t.Error("unknown pre-tokenizer does not fall back to default")
	}
}

// bpeVocab is a hand-made byte-level BPE vocabulary.
func bpeVocab(pre string) Config {
	return Config{
		Model: ModelBPE, Pre: pre,
		Tokens: []string{
			"h", "e", "l", "o", "w", "r", "d", "Ġ", // 0-7
			"ll", "he", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", // 8-16
			"!", "<|eot|>", "Ã", "©", // 17-20
		},
		Types: []TokenType{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, TypeControl, 1, 1},
		Merges: []string{
			"l l", "h e", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld",
		},
		BOS: -1, EOS: 18, EOT: 18, Unknown: -1, Padding: -1,
	}
}

func TestBPEMerges(t *testing.T) {
	tk, err := New(bpeVocab("default"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []int32
	}{
		// hello: ll (rank 0), he (1), he+ll (2), hell+o (3).
		// " world" = Ġworld: Ġw (4), or (5), Ġw+or (6), ld (7), Ġwor+ld (8).
		{"hello world!", []int32{11, 16, 17}},
		// o r l d: or (5) before ld (7); "or ld" is no merge.
		{"orld", []int32{13, 15}},
		// l l l: the leftmost ll first.
		{"lll", []int32{8, 2}},
		// é is bytes C3 A9 = runes Ã ©, not merged.
		{"é", []int32{19, 20}},
		// Special token parsing.
		{"hello<|eot|>", []int32{11, 18}},
	} {
		got := tk.Encode(tc.in, EncodeOptions{ParseSpecial: true})
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if tc.in != "hello<|eot|>" {
			if s := tk.Decode(got); s != tc.in {
				t.Errorf("Decode = %q, want %q", s, tc.in)
			}
		}
	}
	if got := tk.Decode([]int32{11, 18, 16}); got != "hello world" {
		t.Errorf("Decode with control: %q", got)
	}
	if tk.Pre() != "default" || tk.AddSpacePrefix() {
		t.Errorf("pre %q space prefix %v", tk.Pre(), tk.AddSpacePrefix())
	}
}

func TestBPEIgnoreMerges(t *testing.T) {
	// With llama3's ignore_merges a word that is a token is taken whole,
	// even if the merges cannot reach it.
	c := bpeVocab("llama3")
	c.Merges = c.Merges[:1]
	tk, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("hello world", EncodeOptions{}); !slices.Equal(got, []int32{11, 16}) {
		t.Errorf("llama3: %v", got)
	}
	c.Pre = "qwen2"
	tk, err = New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("hello", EncodeOptions{}); !slices.Equal(got, []int32{0, 1, 8, 3}) {
		t.Errorf("qwen2: %v", got)
	}
}

func BenchmarkEncodeBPE(b *testing.B) {
	tk, err := New(bpeVocab("llama3"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(englishKiB)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Encode(englishKiB, EncodeOptions{})
	}
}

// fullBPE is a byte-level vocabulary with every byte and a few merges.
func fullBPE(t testing.TB, pre string) *Tokenizer {
	t.Helper()
	c := Config{Model: ModelBPE, Pre: pre, BOS: -1, EOS: -1, EOT: -1, Unknown: -1, Padding: -1}
	for _, r := range ByteToUnicode() {
		c.Tokens = append(c.Tokens, string(r))
	}
	c.Merges = []string{"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "Ġ o", "Ġ s", "o n", "Ġ w"}
	for _, m := range c.Merges {
		c.Tokens = append(c.Tokens, strings.Replace(m, " ", "", 1))
	}
	tk, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func FuzzEncodeDecodeBPE(f *testing.F) {
	tks := []*Tokenizer{fullBPE(f, "default"), fullBPE(f, "llama3"), fullBPE(f, "qwen2")}
	f.Add("The weather in the north\n\n  is 12345 degrees; isn't it?")
	f.Add("日本語 \xff\xfe \r\n\t x")
	f.Fuzz(func(t *testing.T, s string) { checkBPE(t, tks, s) })
}

// checkBPE: the pre-tokenizer words are non-empty and rebuild the text,
// and any text round trips (invalid bytes as U+FFFD).
func checkBPE(t *testing.T, tks []*Tokenizer, s string) {
	t.Helper()
	for _, tk := range tks {
		rs := []rune(s)
		var words []string
		tk.pre.split(rs, func(a, b int) {
			if a >= b {
				t.Fatalf("%s: empty word at %d", tk.Pre(), a)
			}
			words = append(words, string(rs[a:b]))
		})
		if got := strings.Join(words, ""); got != string(rs) {
			t.Fatalf("%s: words %q do not rebuild %q", tk.Pre(), words, s)
		}
		ids := tk.Encode(s, EncodeOptions{})
		if got, want := tk.Decode(ids), replaceInvalid([]byte(s)); got != want {
			t.Fatalf("%s: Decode(Encode(%q)) = %q", tk.Pre(), s, got)
		}
	}
}

func TestFromGGUFBPE(t *testing.T) {
	c := bpeVocab("llama3")
	c.Tokens[18] = "<|eot_id|>"
	types := make([]int32, len(c.Types))
	for i, ty := range c.Types {
		types[i] = int32(ty)
	}
	var md gguf.Metadata
	md.Set("tokenizer.ggml.model", gguf.StringValue("gpt2"))
	md.Set("tokenizer.ggml.pre", gguf.StringValue("llama-bpe"))
	md.Set("tokenizer.ggml.tokens", gguf.StringsValue(c.Tokens))
	md.Set("tokenizer.ggml.token_type", gguf.Int32sValue(types))
	md.Set("tokenizer.ggml.merges", gguf.StringsValue(c.Merges))
	md.Set("tokenizer.ggml.bos_token_id", gguf.Uint32Value(9))
	md.Set("tokenizer.ggml.add_bos_token", gguf.BoolValue(true))
	tk, err := FromGGUF(&md)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Model() != ModelBPE || tk.Pre() != "llama-bpe" || tk.BOS() != 9 || tk.EOS() != -1 ||
		tk.EOT() != 18 || tk.Unknown() != -1 || !tk.AddBOS() || tk.AddSpacePrefix() {
		t.Fatalf("pre %q bos %d eos %d eot %d unk %d", tk.Pre(), tk.BOS(), tk.EOS(), tk.EOT(), tk.Unknown())
	}
	ids := tk.Encode("hello world<|eot_id|>", EncodeOptions{AddSpecial: true, ParseSpecial: true})
	if !slices.Equal(ids, []int32{9, 11, 16, 18}) {
		t.Fatalf("Encode: %v", ids)
	}
	if got := tk.DecodeWith(ids, DecodeOptions{Special: true}); got != "hehello world<|eot_id|>" {
		t.Fatalf("DecodeWith special: %q", got)
	}
	md.Set("tokenizer.ggml.merges", gguf.StringsValue([]string{"nospace"}))
	if _, err := FromGGUF(&md); !errors.Is(err, ErrVocab) {
		t.Fatalf("bad merge: %v", err)
	}
}
