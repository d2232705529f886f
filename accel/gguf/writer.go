package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxTensorName is the longest tensor name the Writer accepts: ggml stores
// names in char[GGML_MAX_NAME=64] including the terminating NUL, so longer
// names would not load in llama.cpp.
const MaxTensorName = 63

// Tensor is one tensor for Encode: its header fields and its data, given
// either as bytes or as a function that streams them.
type Tensor struct {
	// Name must be unique and at most MaxTensorName bytes.
	Name string
	// Dims are the dimensions, Dims[0] the contiguous one (1 to 4 entries).
	Dims []uint64
	// Type is the element type; Dims[0] must be a multiple of its block size.
	Type Type
	// Data holds the tensor bytes. If nil, WriteData is called instead.
	Data []byte
	// WriteData writes exactly the tensor's size in bytes to w. It lets a
	// generator stream a large tensor without holding it in memory.
	WriteData func(w io.Writer) error
}

// Encode writes a GGUF v3 file with the given metadata (in its order) and
// tensors (in slice order, each at the next aligned offset) to w. The output
// depends only on the arguments. The data alignment is general.alignment
// from md (a uint32 power of two) or 32. Writes to w are buffered.
func Encode(w io.Writer, md *Metadata, tensors []Tensor) error {
	infos := make([]TensorInfo, len(tensors))
	for i, t := range tensors {
		infos[i] = TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.Type}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	tw, err := NewWriter(bw, md, infos)
	if err != nil {
		return err
	}
	for i, t := range tensors {
		want := tw.written + tw.tensors[i].Size
		switch {
		case t.Data != nil:
			_, err = tw.Write(t.Data)
		case t.WriteData != nil:
			err = t.WriteData(tw)
		default:
			err = errors.New("no Data and no WriteData")
		}
		if err == nil && tw.written != want {
			err = fmt.Errorf("wrote %d bytes, want %d", tw.written+tw.tensors[i].Size-want, tw.tensors[i].Size)
		}
		if err != nil {
			if err == tw.err {
				return err // already says what went wrong
			}
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// Writer streams a GGUF v3 file: NewWriter writes the header (metadata and
// tensor table with computed offsets); Write then takes the tensors' data
// in table order, inserting alignment padding between tensors; Close checks
// that all data arrived and writes the final padding. Writer does not
// buffer; wrap slow writers in a bufio.Writer.
type Writer struct {
	w         io.Writer
	tensors   []TensorInfo
	alignment uint64
	pos       uint64 // bytes written to w
	dataStart uint64
	cur       int    // tensor being written
	curDone   uint64 // bytes of tensor cur written
	written   uint64 // tensor bytes written in all, padding excluded
	err       error
	closed    bool
}

// NewWriter validates md and the tensor table, computes each tensor's Size
// and Offset (the Offset and Size fields of tensors are ignored), and writes
// the header to w.
func NewWriter(w io.Writer, md *Metadata, tensors []TensorInfo) (*Writer, error) {
	if md == nil {
		md = &Metadata{}
	}
	tw := &Writer{w: w, alignment: DefaultAlignment}
	if v, ok := md.Get(KeyAlignment); ok {
		a := v.bits
		if v.typ != ValueUint32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: %s must be a uint32 power of two, got %v %v", KeyAlignment, v.typ, v)
		}
		tw.alignment = a
	}
	names := make(map[string]bool, len(tensors))
	var off uint64
	for _, t := range tensors {
		if len(t.Name) > MaxTensorName {
			return nil, fmt.Errorf("gguf: tensor name %q is longer than %d bytes", t.Name, MaxTensorName)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("gguf: duplicate tensor name %q", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > MaxDims {
			return nil, fmt.Errorf("gguf: tensor %q: %d dimensions not in 1..%d", t.Name, len(t.Dims), MaxDims)
		}
		for _, d := range t.Dims {
			if d > math.MaxInt64 {
				return nil, fmt.Errorf("gguf: tensor %q: dimension %d overflows int64", t.Name, d)
			}
		}
		size, err := t.Type.tensorSize(t.Dims)
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		info := TensorInfo{Name: t.Name, Dims: append([]uint64(nil), t.Dims...), Type: t.Type, Offset: off, Size: size}
		tw.tensors = append(tw.tensors, info)
		off = alignUp(off+size, tw.alignment)
		if off < size {
			return nil, errors.New("gguf: total tensor size overflows")
		}
	}

	var b bytes.Buffer
	b.WriteString(Magic)
	b.Write(binary.LittleEndian.AppendUint32(nil, Version))
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(tensors))))
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(md.Len())))
	for _, kv := range md.KVs() {
		putString(&b, kv.Key)
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(kv.Value.typ)))
		if err := putValue(&b, kv.Value, 0); err != nil {
			return nil, fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
	}
	for _, t := range tw.tensors {
		putString(&b, t.Name)
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(t.Dims))))
		for _, d := range t.Dims {
			b.Write(binary.LittleEndian.AppendUint64(nil, d))
		}
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(t.Type)))
		b.Write(binary.LittleEndian.AppendUint64(nil, t.Offset))
	}
	if err := tw.put(b.Bytes()); err != nil {
		return nil, err
	}
	if err := tw.pad(); err != nil {
		return nil, err
	}
	tw.dataStart = tw.pos
	return tw, nil
}

// Tensors returns the tensor table with the computed offsets and sizes.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// DataOffset returns the absolute offset of the data section.
func (w *Writer) DataOffset() int64 { return int64(w.dataStart) }

// Write appends tensor data. Data runs through the tensors in table order;
// when a tensor is complete the padding to the next one is written. Writing
// more bytes than the tensors hold is an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("gguf: write after Close")
	}
	n := 0
	for len(p) > 0 {
		if err := w.finishFull(); err != nil {
			return n, err
		}
		if w.cur == len(w.tensors) {
			w.err = fmt.Errorf("gguf: %d bytes of data beyond the last tensor", len(p))
			return n, w.err
		}
		k := uint64(len(p))
		if left := w.tensors[w.cur].Size - w.curDone; k > left {
			k = left
		}
		if err := w.put(p[:k]); err != nil {
			return n, err
		}
		w.curDone += k
		w.written += k
		n += int(k)
		p = p[k:]
	}
	return n, nil
}

// finishFull moves past every complete tensor, writing its padding.
func (w *Writer) finishFull() error {
	for w.cur < len(w.tensors) && w.curDone == w.tensors[w.cur].Size {
		if err := w.pad(); err != nil {
			return err
		}
		w.cur++
		w.curDone = 0
	}
	return nil
}

// Close checks that every tensor's data was written and writes the padding
// after the last one. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.finishFull(); err != nil {
		return err
	}
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		w.err = fmt.Errorf("gguf: tensor %q: got %d of %d bytes", t.Name, w.curDone, t.Size)
		return w.err
	}
	return nil
}

func (w *Writer) put(p []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.w.Write(p)
	w.pos += uint64(n)
	if err != nil {
		w.err = fmt.Errorf("gguf: write: %w", err)
	}
	return w.err
}

var zeros [4096]byte

// pad writes zero bytes up to the next multiple of the alignment.
func (w *Writer) pad() error {
	n := alignUp(w.pos, w.alignment) - w.pos
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		if err := w.put(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func putString(b *bytes.Buffer, s string) {
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s))))
	b.WriteString(s)
}

func putValue(b *bytes.Buffer, v Value, depth int) error {
	switch v.typ {
	case ValueString:
		putString(b, v.str)
		return nil
	case ValueArray:
		if v.arr == nil {
			return errors.New("nil array")
		}
		return putArray(b, v.arr, depth+1)
	}
	size := v.typ.fixedSize()
	if size == 0 {
		return fmt.Errorf("invalid value type %d", uint32(v.typ))
	}
	b.Write(binary.LittleEndian.AppendUint64(nil, v.bits)[:size])
	return nil
}

func putArray(b *bytes.Buffer, a *Array, depth int) error {
	if depth > MaxArrayDepth {
		return fmt.Errorf("arrays nested deeper than %d", MaxArrayDepth)
	}
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(a.elem)))
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(a.n)))
	switch a.elem {
	case ValueString:
		for _, s := range a.strs {
			putString(b, s)
		}
	case ValueArray:
		for _, x := range a.arrs {
			if err := putArray(b, x, depth+1); err != nil {
				return err
			}
		}
	default:
		b.Write(a.raw)
	}
	return nil
}
