package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/chattmpl"
	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
	"github.com/outpost-iot/outpost/accel/tokenizer"
)

// Model is a loaded GGUF model: weights, tokenizer and chat template.
type Model struct {
	// ID is the model's name in the API: the file name without .gguf.
	ID string
	// LM holds the weights (views into File).
	LM *llama.Model
	// Tok is the tokenizer from the file's metadata.
	Tok *tokenizer.Tokenizer
	// Family is the chat template family detected from
	// tokenizer.chat_template (ChatML when there is none or it is unknown).
	Family chattmpl.Family
	// Thinks is set when the chat template mentions <think> (Qwen 3,
	// DeepSeek R1 and their kin): replies' <think> blocks are reasoning.
	Thinks bool
	// File is the parsed file; it must stay open while the model is used.
	File *gguf.File
	// Created is when the model was loaded (Unix seconds).
	Created int64
}

// ModelID returns the API id of the model file at path: its base name
// without a .gguf suffix.
func ModelID(path string) string {
	base := filepath.Base(path)
	if len(base) > 5 && strings.EqualFold(base[len(base)-5:], ".gguf") {
		return base[:len(base)-5]
	}
	return base
}

// Load memory-maps the GGUF file at path and loads the model from it. It
// reads every weight page once (so the first requests do not wait on the
// disk), reporting progress in bytes when progress is not nil; ctx
// cancels that read.
func Load(ctx context.Context, path string, progress func(done, total int64)) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := FromFile(f, ModelID(path))
	if err == nil {
		err = prefault(ctx, f, progress)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

// FromFile loads the model from an already parsed file (tests use
// gguf.Decode of a synthesized model).
func FromFile(f *gguf.File, id string) (*Model, error) {
	lm, err := llama.Load(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(&f.Metadata)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() != lm.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens, token_embd.weight %d", tok.VocabSize(), lm.VocabSize)
	}
	fam, thinks := chattmpl.ChatML, false
	if tmpl, err := f.Metadata.String("tokenizer.chat_template"); err == nil {
		if d, ok := chattmpl.Detect(tmpl); ok {
			fam = d
		}
		thinks = strings.Contains(tmpl, "<think>")
	}
	return &Model{ID: id, LM: lm, Tok: tok, Family: fam, Thinks: thinks, File: f, Created: time.Now().Unix()}, nil
}

// Close releases the file.
func (m *Model) Close() error { return m.File.Close() }

// prefaultSink receives a byte derived from every page prefault reads.
var prefaultSink byte

// prefault touches one byte per page of every tensor.
func prefault(ctx context.Context, f *gguf.File, progress func(done, total int64)) error {
	var total, done int64
	for _, t := range f.Tensors {
		total += int64(t.Size)
	}
	var sum byte
	for _, t := range f.Tensors {
		data, err := f.TensorData(t.Name)
		if err != nil {
			return err
		}
		for off := 0; off < len(data); off += 4096 {
			sum ^= data[off]
			if off%(64<<20) == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if progress != nil {
					progress(done+int64(off), total)
				}
			}
		}
		done += int64(len(data))
	}
	prefaultSink = sum // keeps the reads from being optimized away
	if progress != nil {
		progress(total, total)
	}
	return nil
}

// chatPrompt renders and tokenizes a chat for the model, with the tools
// it offers (chattmpl.RenderTools).
func (m *Model) chatPrompt(msgs []accel.Message, tools []accel.Tool) ([]int32, error) {
	cm := make([]chattmpl.Message, len(msgs))
	for i, x := range msgs {
		cm[i] = chattmpl.Message{Role: x.Role, Content: x.Content}
		for _, c := range x.ToolCalls {
			cm[i].ToolCalls = append(cm[i].ToolCalls, chattmpl.ToolCall{Name: c.Name, Arguments: c.Arguments})
		}
	}
	ct := make([]chattmpl.Tool, len(tools))
	for i, t := range tools {
		ct[i] = chattmpl.Tool{Name: t.Name, Description: t.Description, Parameters: t.Parameters}
	}
	bos, eos := "", ""
	if id := m.Tok.BOS(); id >= 0 {
		bos = m.Tok.Piece(id)
	}
	if id := m.Tok.EOS(); id >= 0 {
		eos = m.Tok.Piece(id)
	}
	text, err := chattmpl.RenderTools(m.Family, cm, ct, true, bos, eos)
	if err != nil {
		return nil, err
	}
	addBOS := bos == "" || !strings.HasPrefix(text, bos)
	return m.encode(text, addBOS, true), nil
}

// encode tokenizes text, adding BOS (and EOS) as the vocabulary asks when
// special is true.
func (m *Model) encode(text string, special, parseSpecial bool) []int32 {
	return m.Tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: special, ParseSpecial: parseSpecial})
}
