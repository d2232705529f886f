// Package chattmpl renders chat conversations into the prompt text that the
// common instruction-tuned model families were trained on, without a Jinja
// engine.
//
// A GGUF model carries its chat template as a Jinja string under the
// metadata key "tokenizer.chat_template". Like llama.cpp's
// llm_chat_detect_template, this package does not evaluate that string: Detect
// looks for marker substrings that identify the family, and Render reproduces,
// in Go, the text that the family's official template produces. ByName picks a
// family by name for an override (a command-line flag, say).
//
// Supported families, and the official template each one follows:
//
//   - ChatML: "<|im_start|>role\ncontent<|im_end|>\n" per message (OpenHermes,
//     SmolLM, Qwen without Qwen's default system message; synth.ChatTemplate).
//   - Llama2: Llama-2-chat, "<s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]".
//   - Llama3: Meta-Llama-3-Instruct (3.0; not the 3.1 tool/date preamble).
//   - Zephyr: zephyr-7b-beta and TinyLlama-1.1B-Chat-v1.0, "<|user|>\n...</s>\n".
//   - Mistral: the original Mistral-7B-Instruct v0.1/v0.2 template,
//     "<s>[INST] ... [/INST]...</s>", which has no system role.
//   - Gemma: "<start_of_turn>user\n...<end_of_turn>\n", assistant as "model";
//     a system message is prepended to the first user turn as Gemma 3 does
//     (Gemma 1 and 2 templates reject a system message).
//   - Phi3: Phi-3-mini-instruct, "<|user|>\n...<|end|>\n".
//
// StopStrings gives each family's end-of-turn markers, for stopping generation.
//
// Tools (tools.go): RenderTools puts the tools a request offers, past tool
// calls and tool results into the prompt for the families that have a
// tool-calling convention (ChatML in the Hermes/Qwen style, Llama 3.1's
// JSON calls), and Parser splits a streamed reply into text, <think>
// reasoning and tool calls.
package chattmpl

import (
	"fmt"
	"strings"
)

// Message is one turn of a conversation. Role is "system", "user",
// "assistant" or "tool". ToolCalls are an assistant turn's calls (see
// RenderTools).
type Message struct {
	Role      string
	Content   string
	ToolCalls []ToolCall
}

// Roles accepted in Message.Role.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Family identifies a chat template family.
type Family int

// The supported families. Unknown is the zero value, for "no family".
const (
	Unknown Family = iota
	ChatML
	Llama2
	Llama3
	Zephyr
	Mistral
	Gemma
	Phi3
)

var names = [...]string{
	Unknown: "unknown",
	ChatML:  "chatml",
	Llama2:  "llama2",
	Llama3:  "llama3",
	Zephyr:  "zephyr",
	Mistral: "mistral",
	Gemma:   "gemma",
	Phi3:    "phi3",
}

// Families lists the supported families, in declaration order.
func Families() []Family {
	return []Family{ChatML, Llama2, Llama3, Zephyr, Mistral, Gemma, Phi3}
}

// String returns the family's name as ByName accepts it.
func (f Family) String() string {
	if f >= 0 && int(f) < len(names) {
		return names[f]
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// ByName returns the family with the given name, case-insensitively:
// "chatml", "llama2", "llama3", "zephyr", "mistral", "gemma" or "phi3".
// A few aliases are accepted too: "llama-2", "llama-3", "tinyllama",
// "phi-3".
func ByName(name string) (Family, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "llama-2":
		return Llama2, true
	case "llama-3":
		return Llama3, true
	case "tinyllama":
		return Zephyr, true
	case "phi-3":
		return Phi3, true
	}
	for _, f := range Families() {
		if names[f] == n {
			return f, true
		}
	}
	return Unknown, false
}

// Detect reports which family a Jinja chat template (the GGUF metadata value
// tokenizer.chat_template) belongs to, by looking for marker substrings in
// the manner of llama.cpp's llm_chat_detect_template:
//
//   - "<|im_start|>": ChatML
//   - "<|start_header_id|>": Llama3
//   - "<start_of_turn>": Gemma
//   - "<|user|>" with "<|end|>": Phi3
//   - "<|user|>" otherwise (with eos_token or "</s>"): Zephyr
//   - "[INST]" with "<<SYS>>": Llama2
//   - "[INST]" otherwise: Mistral
//
// It returns Unknown and false when no marker matches.
func Detect(jinja string) (Family, bool) {
	has := func(s string) bool { return strings.Contains(jinja, s) }
	switch {
	case has("<|im_start|>"):
		return ChatML, true
	case has("<|start_header_id|>"):
		return Llama3, true
	case has("<start_of_turn>"):
		return Gemma, true
	case has("<|user|>") && has("<|end|>"):
		return Phi3, true
	case has("<|user|>"):
		return Zephyr, true
	case has("[INST]") && has("<<SYS>>"):
		return Llama2, true
	case has("[INST]"):
		return Mistral, true
	}
	return Unknown, false
}

// StopStrings returns the end-of-turn markers that end an assistant reply in
// family f, so that generation can stop on them. Llama 2, Mistral and Zephyr
// end turns with the end-of-sequence token, returned as its usual text "</s>";
// the engine should stop on its EOS token id as well.
func StopStrings(f Family) []string {
	switch f {
	case ChatML:
		return []string{"<|im_end|>"}
	case Llama3:
		return []string{"<|eot_id|>"}
	case Gemma:
		return []string{"<end_of_turn>"}
	case Phi3:
		return []string{"<|end|>"}
	case Zephyr, Llama2, Mistral:
		return []string{"</s>"}
	}
	return nil
}

// Render formats msgs as family f's official chat template does, given the
// model's bos and eos token texts (for example "<s>" and "</s>", or
// "<|begin_of_text|>" and "<|eot_id|>"). With addGenerationPrompt it appends
// the header that opens an assistant turn, where the template has one
// (Llama2 and Mistral have none: a prompt ending in "[/INST]" already asks
// for a reply).
//
// Render returns an error for an unknown role, and where the template would
// raise one: Llama2, Mistral and Gemma need user and assistant turns to
// alternate, starting with user, after an optional leading system message
// (which Mistral does not accept at all), and do not accept tool messages.
// The Zephyr and Phi3 templates have no tool role and render nothing for a
// tool message; neither does Render. ChatML and Llama3 render a tool message
// like any other, under the role name "tool".
func Render(f Family, msgs []Message, addGenerationPrompt bool, bos, eos string) (string, error) {
	for i, m := range msgs {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant, RoleTool:
		default:
			return "", fmt.Errorf("chattmpl: message %d: unknown role %q", i, m.Role)
		}
	}
	var b strings.Builder
	switch f {
	case ChatML:
		// {% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' +
		// message['content'] + '<|im_end|>' + '\n'}}{% endfor %}
		// {% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
		for _, m := range msgs {
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<|im_start|>assistant\n")
		}
	case Llama3:
		// Per message: '<|start_header_id|>' + role + '<|end_header_id|>\n\n' +
		// content|trim + '<|eot_id|>', the first one preceded by bos_token;
		// generation prompt '<|start_header_id|>assistant<|end_header_id|>\n\n'.
		for i, m := range msgs {
			if i == 0 {
				b.WriteString(bos)
			}
			b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n" +
				strings.TrimSpace(m.Content) + "<|eot_id|>")
		}
		if addGenerationPrompt {
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
	case Zephyr:
		// Per user/system/assistant message: '<|role|>\n' + content + eos_token,
		// then the template's literal newline; generation prompt
		// '<|assistant|>' and newline. Other roles render nothing.
		for _, m := range msgs {
			if m.Role == RoleTool {
				continue
			}
			b.WriteString("<|" + m.Role + "|>\n" + m.Content + eos + "\n")
		}
		if addGenerationPrompt && len(msgs) > 0 {
			b.WriteString("<|assistant|>\n")
		}
	case Phi3:
		// Per system/user/assistant message: '<|role|>\n' + content + '<|end|>\n';
		// then '<|assistant|>\n' with add_generation_prompt, else eos_token.
		for _, m := range msgs {
			if m.Role == RoleTool {
				continue
			}
			b.WriteString("<|" + m.Role + "|>\n" + m.Content + "<|end|>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<|assistant|>\n")
		} else {
			b.WriteString(eos)
		}
	case Llama2:
		sys, rest, hasSys := splitSystem(msgs)
		if err := alternate(f, rest, hasSys); err != nil {
			return "", err
		}
		// Per user message: bos_token + '[INST] ' + content.strip() + ' [/INST]',
		// the first with '<<SYS>>\n' + system + '\n<</SYS>>\n\n' before it;
		// per assistant message: ' ' + content.strip() + ' ' + eos_token.
		for i, m := range rest {
			c := m.Content
			if i == 0 && hasSys {
				c = "<<SYS>>\n" + sys + "\n<</SYS>>\n\n" + c
			}
			c = strings.TrimSpace(c)
			if m.Role == RoleUser {
				b.WriteString(bos + "[INST] " + c + " [/INST]")
			} else {
				b.WriteString(" " + c + " " + eos)
			}
		}
	case Mistral:
		if len(msgs) > 0 && msgs[0].Role == RoleSystem {
			return "", fmt.Errorf("chattmpl: mistral: system role is not supported; only user and assistant roles are")
		}
		if err := alternate(f, msgs, false); err != nil {
			return "", err
		}
		// bos_token, then per user message '[INST] ' + content + ' [/INST]' and
		// per assistant message content + eos_token.
		b.WriteString(bos)
		for _, m := range msgs {
			if m.Role == RoleUser {
				b.WriteString("[INST] " + m.Content + " [/INST]")
			} else {
				b.WriteString(m.Content + eos)
			}
		}
	case Gemma:
		sys, rest, hasSys := splitSystem(msgs)
		if err := alternate(f, rest, hasSys); err != nil {
			return "", err
		}
		// bos_token, then per message '<start_of_turn>' + role + '\n' +
		// content|trim + '<end_of_turn>\n' with assistant as "model"; a system
		// message's text + '\n\n' prefixes the first user turn (Gemma 3).
		b.WriteString(bos)
		for i, m := range rest {
			role, c := m.Role, strings.TrimSpace(m.Content)
			if role == RoleAssistant {
				role = "model"
			}
			if i == 0 && hasSys {
				c = sys + "\n\n" + c
			}
			b.WriteString("<start_of_turn>" + role + "\n" + c + "<end_of_turn>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<start_of_turn>model\n")
		}
	default:
		return "", fmt.Errorf("chattmpl: unsupported family %v", f)
	}
	return b.String(), nil
}

// splitSystem separates a leading system message from the rest.
func splitSystem(msgs []Message) (sys string, rest []Message, ok bool) {
	if len(msgs) > 0 && msgs[0].Role == RoleSystem {
		return msgs[0].Content, msgs[1:], true
	}
	return "", msgs, false
}

// alternate checks that msgs go user, assistant, user, ... as the Llama 2,
// Mistral and Gemma templates require.
func alternate(f Family, msgs []Message, afterSystem bool) error {
	for i, m := range msgs {
		want := RoleUser
		if i%2 == 1 {
			want = RoleAssistant
		}
		if m.Role != want {
			n := i
			if afterSystem {
				n++
			}
			return fmt.Errorf("chattmpl: %v: message %d has role %q, want %q: after an optional leading system message, roles must alternate user/assistant/user/assistant/...", f, n, m.Role, want)
		}
	}
	return nil
}
