package chattmpl

import (
	"strings"
	"testing"

	"github.com/outpost-iot/outpost/accel/synth"
)

// Token texts each family's models use for bos_token and eos_token.
var tokens = map[Family][2]string{
	ChatML:  {"", "<|im_end|>"},
	Llama2:  {"<s>", "</s>"},
	Llama3:  {"<|begin_of_text|>", "<|eot_id|>"},
	Zephyr:  {"<s>", "</s>"},
	Mistral: {"<s>", "</s>"},
	Gemma:   {"<bos>", "<eos>"},
	Phi3:    {"<s>", "<|endoftext|>"},
}

var (
	sysUser = []Message{
		{Role: RoleSystem, Content: "You are helpful."},
		{Role: RoleUser, Content: "Hello!"},
	}
	multiTurn = []Message{
		{Role: RoleUser, Content: "Hi"},
		{Role: RoleAssistant, Content: "Hello! How can I help?"},
		{Role: RoleUser, Content: "Tell me a joke."},
	}
)

// The expected strings are worked out by hand from each family's official
// Jinja template (the key expression is quoted in each comment, paraphrased),
// rendered as transformers does (trim_blocks and lstrip_blocks on).
var goldens = []struct {
	name string
	f    Family
	msgs []Message
	gen  bool
	want string
}{
	// ChatML: '<|im_start|>' + role + '\n' + content + '<|im_end|>' + '\n' per
	// message; add_generation_prompt: '<|im_start|>assistant\n'.
	{"chatml/sys", ChatML, sysUser, true,
		"<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"},
	{"chatml/multi", ChatML, multiTurn, true,
		"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n"},
	{"chatml/nogen", ChatML, multiTurn[:2], false,
		"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"},

	// Llama-2-chat: system taken from messages[0] and wrapped as
	// '<<SYS>>\n' + system + '\n<</SYS>>\n\n' before the first user content;
	// user: bos_token + '[INST] ' + content.strip() + ' [/INST]';
	// assistant: ' ' + content.strip() + ' ' + eos_token. No generation prompt.
	{"llama2/sys", Llama2, sysUser, true,
		"<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello! [/INST]"},
	{"llama2/multi", Llama2, multiTurn, true,
		"<s>[INST] Hi [/INST] Hello! How can I help? </s><s>[INST] Tell me a joke. [/INST]"},

	// Meta-Llama-3-Instruct: per message '<|start_header_id|>' + role +
	// '<|end_header_id|>\n\n' + content|trim + '<|eot_id|>', bos_token before
	// the first; add_generation_prompt: '<|start_header_id|>assistant<|end_header_id|>\n\n'.
	{"llama3/sys", Llama3, sysUser, true,
		"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"llama3/multi", Llama3, multiTurn, true,
		"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"},

	// Zephyr / TinyLlama-1.1B-Chat-v1.0: '<|user|>\n' + content + eos_token
	// (likewise system, assistant), each output block followed by the
	// template's newline; 'if loop.last and add_generation_prompt':
	// '<|assistant|>' and newline.
	{"zephyr/sys", Zephyr, sysUser, true,
		"<|system|>\nYou are helpful.</s>\n<|user|>\nHello!</s>\n<|assistant|>\n"},
	{"zephyr/multi", Zephyr, multiTurn, true,
		"<|user|>\nHi</s>\n<|assistant|>\nHello! How can I help?</s>\n<|user|>\nTell me a joke.</s>\n<|assistant|>\n"},

	// Mistral-7B-Instruct v0.1/v0.2: bos_token, then user:
	// '[INST] ' + content + ' [/INST]'; assistant: content + eos_token.
	// No system role, no generation prompt.
	{"mistral/user", Mistral, sysUser[1:], true,
		"<s>[INST] Hello! [/INST]"},
	{"mistral/multi", Mistral, multiTurn, true,
		"<s>[INST] Hi [/INST]Hello! How can I help?</s>[INST] Tell me a joke. [/INST]"},

	// Gemma: bos_token, then '<start_of_turn>' + role + '\n' + content|trim +
	// '<end_of_turn>\n' with assistant renamed 'model'; Gemma 3 prefixes the
	// first user turn with the system text + '\n\n';
	// add_generation_prompt: '<start_of_turn>model\n'.
	{"gemma/sys", Gemma, sysUser, true,
		"<bos><start_of_turn>user\nYou are helpful.\n\nHello!<end_of_turn>\n<start_of_turn>model\n"},
	{"gemma/multi", Gemma, multiTurn, true,
		"<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello! How can I help?<end_of_turn>\n" +
			"<start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n"},

	// Phi-3-mini-instruct: '<|role|>\n' + content + '<|end|>\n' per message;
	// add_generation_prompt: '<|assistant|>\n', else eos_token.
	{"phi3/sys", Phi3, sysUser, true,
		"<|system|>\nYou are helpful.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\n"},
	{"phi3/multi", Phi3, multiTurn, true,
		"<|user|>\nHi<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n<|user|>\nTell me a joke.<|end|>\n<|assistant|>\n"},
	{"phi3/nogen", Phi3, multiTurn[:2], false,
		"<|user|>\nHi<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n<|endoftext|>"},
}

func TestRenderGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			tok := tokens[g.f]
			got, err := Render(g.f, g.msgs, g.gen, tok[0], tok[1])
			if err != nil {
				t.Fatal(err)
			}
			if got != g.want {
				t.Errorf("Render:\n got %q\nwant %q", got, g.want)
			}
		})
	}
}

// TestRenderPublished checks against transformers' apply_chat_template output
// for hello/response/again/response as published in llama.cpp's wiki page
// "Templates supported by llama_chat_apply_template" (Gemma there was
// rendered without bos_token).
func TestRenderPublished(t *testing.T) {
	conv := []Message{
		{Role: RoleUser, Content: "hello"}, {Role: RoleAssistant, Content: "response"},
		{Role: RoleUser, Content: "again"}, {Role: RoleAssistant, Content: "response"},
	}
	for _, c := range []struct {
		f        Family
		bos, eos string
		want     string
	}{
		{ChatML, "", "", "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nresponse<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\nresponse<|im_end|>\n"},
		{Mistral, "<s>", "</s>", "<s>[INST] hello [/INST]response</s>[INST] again [/INST]response</s>"},
		{Gemma, "", "", "<start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\nresponse<end_of_turn>\n<start_of_turn>user\nagain<end_of_turn>\n<start_of_turn>model\nresponse<end_of_turn>\n"},
	} {
		got, err := Render(c.f, conv, false, c.bos, c.eos)
		if err != nil {
			t.Fatalf("%v: %v", c.f, err)
		}
		if got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.f, got, c.want)
		}
	}
}

func TestTrim(t *testing.T) {
	msgs := []Message{{Role: RoleUser, Content: "  hi \n"}}
	for f, want := range map[Family]string{
		Llama3: "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
		Gemma:  "<start_of_turn>user\nhi<end_of_turn>\n",
		Llama2: "[INST] hi [/INST]",
		ChatML: "<|im_start|>user\n  hi \n<|im_end|>\n",
	} {
		got, err := Render(f, msgs, false, "", "")
		if err != nil || got != want {
			t.Errorf("%v: got %q, %v; want %q", f, got, err, want)
		}
	}
}

// Short paraphrased excerpts of each family's official template: the lines
// that carry the markers.
var detectCases = []struct {
	name  string
	jinja string
	want  Family
}{
	{"synth", synth.ChatTemplate, ChatML},
	{"qwen2", "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}", ChatML},
	{"llama2", "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", Llama2},
	{"llama3", "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}", Llama3},
	{"zephyr", "{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}", Zephyr},
	{"mistral", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}", Mistral},
	{"gemma", "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}", Gemma},
	{"phi3", "{% if message['role'] == 'user' %}{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n'}}{% endif %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}", Phi3},
}

func TestDetect(t *testing.T) {
	for _, c := range detectCases {
		got, ok := Detect(c.jinja)
		if !ok || got != c.want {
			t.Errorf("%s: Detect = %v, %v; want %v", c.name, got, ok, c.want)
		}
	}
	for _, s := range []string{"", "{{ messages }}", "{% for m in messages %}### Human: {{ m['content'] }}{% endfor %}"} {
		if f, ok := Detect(s); ok || f != Unknown {
			t.Errorf("Detect(%q) = %v, %v; want unknown", s, f, ok)
		}
	}
}

func TestByName(t *testing.T) {
	for _, f := range Families() {
		for _, n := range []string{f.String(), strings.ToUpper(f.String())} {
			if got, ok := ByName(n); !ok || got != f {
				t.Errorf("ByName(%q) = %v, %v", n, got, ok)
			}
		}
	}
	if got, ok := ByName("tinyllama"); !ok || got != Zephyr {
		t.Errorf("ByName(tinyllama) = %v, %v", got, ok)
	}
	if _, ok := ByName("vicuna"); ok {
		t.Error("ByName(vicuna) ok")
	}
	if s := Family(99).String(); s != "Family(99)" {
		t.Errorf("String = %q", s)
	}
}

func TestStopStrings(t *testing.T) {
	want := map[Family]string{
		ChatML: "<|im_end|>", Llama2: "</s>", Llama3: "<|eot_id|>", Zephyr: "</s>",
		Mistral: "</s>", Gemma: "<end_of_turn>", Phi3: "<|end|>",
	}
	for _, f := range Families() {
		s := StopStrings(f)
		if len(s) == 0 || s[0] != want[f] {
			t.Errorf("%v: StopStrings = %q", f, s)
		}
	}
	if StopStrings(Unknown) != nil {
		t.Error("StopStrings(Unknown) != nil")
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		name string
		f    Family
		msgs []Message
		want string
	}{
		{"badrole", ChatML, []Message{{Role: "narrator", Content: "x"}}, "unknown role"},
		{"unknownfamily", Unknown, multiTurn, "unsupported family"},
		{"llama2/twousers", Llama2, []Message{{Role: RoleUser, Content: "a"}, {Role: RoleUser, Content: "b"}}, "alternate"},
		{"llama2/assistantfirst", Llama2, []Message{{Role: RoleSystem, Content: "s"}, {Role: RoleAssistant, Content: "a"}}, "message 1"},
		{"llama2/tool", Llama2, []Message{{Role: RoleUser, Content: "a"}, {Role: RoleTool, Content: "t"}}, "alternate"},
		{"llama2/latesystem", Llama2, []Message{{Role: RoleUser, Content: "a"}, {Role: RoleSystem, Content: "s"}}, "alternate"},
		{"mistral/system", Mistral, sysUser, "system role"},
		{"mistral/twoassistants", Mistral, []Message{{Role: RoleUser, Content: "a"}, {Role: RoleAssistant, Content: "b"}, {Role: RoleAssistant, Content: "c"}}, "alternate"},
		{"gemma/twousers", Gemma, []Message{{Role: RoleSystem, Content: "s"}, {Role: RoleUser, Content: "a"}, {Role: RoleUser, Content: "b"}}, "message 2"},
	}
	for _, c := range cases {
		_, err := Render(c.f, c.msgs, true, "<s>", "</s>")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
	}
}

func TestToolRole(t *testing.T) {
	msgs := []Message{{Role: RoleUser, Content: "q"}, {Role: RoleTool, Content: "42"}}
	got, err := Render(ChatML, msgs, true, "", "")
	want := "<|im_start|>user\nq<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n"
	if err != nil || got != want {
		t.Errorf("ChatML tool: got %q, %v", got, err)
	}
	got, err = Render(Llama3, msgs, false, "", "")
	want = "<|start_header_id|>user<|end_header_id|>\n\nq<|eot_id|><|start_header_id|>tool<|end_header_id|>\n\n42<|eot_id|>"
	if err != nil || got != want {
		t.Errorf("Llama3 tool: got %q, %v", got, err)
	}
}

func TestEmpty(t *testing.T) {
	for _, f := range Families() {
		tok := tokens[f]
		if _, err := Render(f, nil, true, tok[0], tok[1]); err != nil {
			t.Errorf("%v: %v", f, err)
		}
	}
}
