package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// Version is the GGUF version the Writer produces. The reader accepts
// versions 2 and 3, which share one layout (version 1 used 32-bit counts).
const Version = 3

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the data alignment (a power of
// two, stored as uint32).
const KeyAlignment = "general.alignment"

// Limits applied while decoding. They bound what a hostile file can make the
// reader allocate; every count and length is also checked against the bytes
// left in the file before anything is allocated.
const (
	// MaxStringLen is the longest string accepted (1 GiB).
	MaxStringLen = 1 << 30
	// MaxArrayDepth is the deepest nesting of arrays accepted (an array
	// holding scalars has depth 1).
	MaxArrayDepth = 8
	// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
	MaxDims = 4
)

// ErrClosed is returned by TensorData after Close.
var ErrClosed = errors.New("gguf: file closed")

// FormatError reports a malformed file: what is wrong and at which byte
// offset. Truncated files wrap io.ErrUnexpectedEOF.
type FormatError struct {
	Offset int64  // byte offset in the file where the problem was found
	Msg    string // what is wrong
	Err    error  // underlying error, if any (io.ErrUnexpectedEOF for truncation)
}

func (e *FormatError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("gguf: offset %d: %s: %v", e.Offset, e.Msg, e.Err)
	}
	return fmt.Sprintf("gguf: offset %d: %s", e.Offset, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	// Name is the tensor name, byte-exact.
	Name string
	// Dims are the dimensions, Dims[0] the contiguous (innermost) one, as
	// ggml's ne[]. 1 to 4 entries.
	Dims []uint64
	// Type is the element type.
	Type Type
	// Offset is the byte offset of the data relative to File.DataOffset;
	// a multiple of File.Alignment.
	Offset uint64
	// Size is the data size in bytes.
	Size uint64
}

// Elements returns the number of elements (the product of Dims).
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a parsed GGUF file: header, metadata, tensor table and access to
// tensor data.
type File struct {
	// Version is the GGUF version read (2 or 3).
	Version uint32
	// Metadata holds the key/value pairs in file order.
	Metadata Metadata
	// Tensors is the tensor table in file order.
	Tensors []TensorInfo
	// Alignment is the data alignment in bytes (general.alignment or 32).
	Alignment uint64
	// DataOffset is the absolute file offset of the tensor data section.
	DataOffset int64
	// Size is the file size in bytes.
	Size int64

	byName map[string]int
	data   []byte      // whole file, when in memory or mapped
	ra     io.ReaderAt // otherwise
	unmap  func() error
	closed bool
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData returns the bytes of the named tensor. For files from Open and
// Decode the slice aliases the mapping or the decoded buffer (no copy); it
// must not be modified and, for Open, must not be used after Close. For
// files from Parse the data is read into a new slice.
func (f *File) TensorData(name string) ([]byte, error) {
	if f.closed {
		return nil, ErrClosed
	}
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %q", name)
	}
	start := uint64(f.DataOffset) + t.Offset
	if t.Size > math.MaxInt || start > math.MaxInt {
		return nil, fmt.Errorf("gguf: tensor %q: %d bytes at offset %d do not fit in memory on this platform", name, t.Size, start)
	}
	if f.data != nil {
		end := start + t.Size
		return f.data[start:end:end], nil
	}
	buf := make([]byte, t.Size)
	if len(buf) == 0 {
		return buf, nil
	}
	if n, err := f.ra.ReadAt(buf, int64(start)); n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("gguf: read tensor %q: %w", name, err)
	}
	return buf, nil
}

// Close releases the memory mapping of a file from Open. It is idempotent;
// slices from TensorData are invalid afterwards.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.data = nil
	if f.unmap != nil {
		u := f.unmap
		f.unmap = nil
		return u()
	}
	return nil
}

// Decode parses a GGUF file held in memory. TensorData returns sub-slices of
// data, which the caller must keep unchanged.
func Decode(data []byte) (*File, error) {
	return decode(&decoder{data: data, size: int64(len(data))})
}

// Parse parses a GGUF file of the given size read through r. Metadata is
// read in chunks; TensorData reads tensor bytes on demand.
func Parse(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: negative size %d", size)
	}
	f, err := decode(&decoder{ra: r, size: size})
	if err != nil {
		return nil, err
	}
	f.ra = r
	return f, nil
}

// decoder reads little-endian values from a byte slice or an io.ReaderAt.
type decoder struct {
	data []byte      // whole input, if in memory
	ra   io.ReaderAt // otherwise, with a read window:
	win  []byte
	wOff int64
	size int64
	off  int64
}

const windowSize = 64 << 10

func (d *decoder) errf(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) remaining() int64 { return d.size - d.off }

// next returns the next n bytes and advances. The slice is valid until the
// next call. n has been checked against MaxStringLen by callers.
func (d *decoder) next(n int64, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, &FormatError{Offset: d.off, Msg: fmt.Sprintf("%s: need %d bytes, %d left", what, n, max(d.remaining(), 0)), Err: io.ErrUnexpectedEOF}
	}
	start := d.off
	d.off += n
	if d.data != nil {
		return d.data[start:d.off], nil
	}
	if start >= d.wOff && d.off <= d.wOff+int64(len(d.win)) {
		return d.win[start-d.wOff : d.off-d.wOff], nil
	}
	w := max(n, min(windowSize, d.size-start))
	if int64(cap(d.win)) < w {
		d.win = make([]byte, w)
	}
	d.win = d.win[:w]
	d.wOff = start
	if got, err := d.ra.ReadAt(d.win, start); int64(got) < w {
		d.win = d.win[:0]
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, &FormatError{Offset: start, Msg: "read " + what, Err: err}
	}
	return d.win[:n], nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.next(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.next(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a gguf_string: u64 length, then that many bytes, kept exactly.
func (d *decoder) str(what string) (string, error) {
	at := d.off
	n, err := d.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > MaxStringLen {
		return "", d.errf(at, "%s: length %d exceeds limit %d", what, n, MaxStringLen)
	}
	if n > uint64(d.remaining()) {
		return "", &FormatError{Offset: at, Msg: fmt.Sprintf("%s: length %d exceeds the %d bytes left", what, n, d.remaining()), Err: io.ErrUnexpectedEOF}
	}
	b, err := d.next(int64(n), what)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// checkCount fails unless count items of at least minSize bytes each fit in
// the rest of the file. It runs before any allocation sized by count.
func (d *decoder) checkCount(at int64, what string, count uint64, minSize int) error {
	if minSize > 0 && count > uint64(d.remaining())/uint64(minSize) {
		return &FormatError{Offset: at, Msg: fmt.Sprintf("%s %d cannot fit in the %d bytes left", what, count, d.remaining()), Err: io.ErrUnexpectedEOF}
	}
	return nil
}

func (d *decoder) value(t ValueType, depth int, what string) (Value, error) {
	switch t {
	case ValueString:
		s, err := d.str(what)
		return StringValue(s), err
	case ValueArray:
		a, err := d.array(depth+1, what)
		return ArrayValue(a), err
	}
	at := d.off
	size := t.fixedSize()
	if size == 0 {
		return Value{}, d.errf(at, "%s: invalid value type %d", what, uint32(t))
	}
	b, err := d.next(int64(size), what)
	if err != nil {
		return Value{}, err
	}
	var buf [8]byte
	copy(buf[:], b)
	v := Value{typ: t, bits: binary.LittleEndian.Uint64(buf[:])}
	if t == ValueBool && v.bits > 1 {
		return Value{}, d.errf(at, "%s: bool byte %d is not 0 or 1", what, v.bits)
	}
	return v, nil
}

func (d *decoder) array(depth int, what string) (*Array, error) {
	at := d.off
	if depth > MaxArrayDepth {
		return nil, d.errf(at, "%s: arrays nested deeper than %d", what, MaxArrayDepth)
	}
	et, err := d.u32(what + " element type")
	if err != nil {
		return nil, err
	}
	elem := ValueType(et)
	if !elem.valid() {
		return nil, d.errf(at, "%s: invalid array element type %d", what, et)
	}
	cAt := d.off
	count, err := d.u64(what + " count")
	if err != nil {
		return nil, err
	}
	if err := d.checkCount(cAt, what+": array of "+elem.String()+" count", count, elem.minSize()); err != nil {
		return nil, err
	}
	n := int(count)
	if uint64(n) != count || n < 0 { // only possible on 32-bit platforms
		return nil, d.errf(cAt, "%s: array count %d overflows int", what, count)
	}
	a := &Array{elem: elem, n: n}
	switch elem {
	case ValueString:
		a.strs = make([]string, n)
		for i := range a.strs {
			if a.strs[i], err = d.str(what); err != nil {
				return nil, err
			}
		}
	case ValueArray:
		a.arrs = make([]*Array, n)
		for i := range a.arrs {
			if a.arrs[i], err = d.array(depth+1, what); err != nil {
				return nil, err
			}
		}
	default:
		size := int64(elem.fixedSize()) * int64(n)
		b, err := d.next(size, what)
		if err != nil {
			return nil, err
		}
		if elem == ValueBool {
			for i, c := range b {
				if c > 1 {
					return nil, d.errf(d.off-size+int64(i), "%s: bool byte %d is not 0 or 1", what, c)
				}
			}
		}
		a.raw = slices.Clone(b)
		if a.raw == nil {
			a.raw = []byte{}
		}
	}
	return a, nil
}

// Minimum encoded sizes, for bounding counts: a KV is a key length, a value
// type and at least one value byte; a tensor info is a name length, n_dims,
// one dimension, a type and an offset.
const (
	minKVSize     = 8 + 4 + 1
	minTensorSize = 8 + 4 + 8 + 4 + 8
)

func decode(d *decoder) (*File, error) {
	magic, err := d.next(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, d.errf(0, "bad magic %q, want %q", magic, Magic)
	}
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	if version != 2 && version != 3 {
		if sw := bitsReverse32(version); sw == 2 || sw == 3 {
			return nil, d.errf(4, "big-endian GGUF (version %d byte-swapped) is not supported", sw)
		}
		return nil, d.errf(4, "unsupported version %d (want 2 or 3)", version)
	}
	f := &File{Version: version, Size: d.size, Alignment: DefaultAlignment, data: d.data}

	tAt := d.off
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	kAt := d.off
	nKV, err := d.u64("metadata count")
	if err != nil {
		return nil, err
	}
	if err := d.checkCount(kAt, "metadata count", nKV, minKVSize); err != nil {
		return nil, err
	}
	if err := d.checkCount(tAt, "tensor count", nTensors, minTensorSize); err != nil {
		return nil, err
	}

	for i := range nKV {
		at := d.off
		key, err := d.str(fmt.Sprintf("metadata %d key", i))
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("metadata %q", key)
		vt, err := d.u32(what + " type")
		if err != nil {
			return nil, err
		}
		if !ValueType(vt).valid() {
			return nil, d.errf(d.off-4, "%s: invalid value type %d", what, vt)
		}
		v, err := d.value(ValueType(vt), 0, what)
		if err != nil {
			return nil, err
		}
		if !f.Metadata.add(key, v) {
			return nil, d.errf(at, "duplicate metadata key %q", key)
		}
	}

	if v, ok := f.Metadata.Get(KeyAlignment); ok {
		a, ok := v.Uint()
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<31 {
			return nil, d.errf(d.off, "%s = %v is not a power of two up to 2^31", KeyAlignment, v)
		}
		f.Alignment = a
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	f.byName = make(map[string]int, nTensors)
	for i := range nTensors {
		at := d.off
		name, err := d.str(fmt.Sprintf("tensor %d name", i))
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("tensor %q", name)
		if _, dup := f.byName[name]; dup {
			return nil, d.errf(at, "duplicate tensor name %q", name)
		}
		nAt := d.off
		nDims, err := d.u32(what + " n_dims")
		if err != nil {
			return nil, err
		}
		if nDims == 0 || nDims > MaxDims {
			return nil, d.errf(nAt, "%s: n_dims %d not in 1..%d", what, nDims, MaxDims)
		}
		t := TensorInfo{Name: name, Dims: make([]uint64, nDims)}
		for j := range t.Dims {
			if t.Dims[j], err = d.u64(what + " dimension"); err != nil {
				return nil, err
			}
			if t.Dims[j] > math.MaxInt64 {
				return nil, d.errf(d.off-8, "%s: dimension %d = %d overflows int64", what, j, t.Dims[j])
			}
		}
		tyAt := d.off
		ty, err := d.u32(what + " type")
		if err != nil {
			return nil, err
		}
		t.Type = Type(ty)
		if !t.Type.Known() {
			return nil, d.errf(tyAt, "%s: unknown tensor type %d", what, ty)
		}
		if t.Size, err = t.Type.tensorSize(t.Dims); err != nil {
			return nil, d.errf(at, "%s: %v", what, err)
		}
		oAt := d.off
		if t.Offset, err = d.u64(what + " offset"); err != nil {
			return nil, err
		}
		if t.Offset%f.Alignment != 0 {
			return nil, d.errf(oAt, "%s: offset %d is not a multiple of the alignment %d", what, t.Offset, f.Alignment)
		}
		f.byName[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}

	data := alignUp(uint64(d.off), f.Alignment)
	f.DataOffset = int64(data)
	if err := checkTensorBounds(f, d.size); err != nil {
		return nil, err
	}
	return f, nil
}

// checkTensorBounds checks that every tensor lies inside the file, after the
// header, and that no two tensors overlap.
func checkTensorBounds(f *File, size int64) error {
	if len(f.Tensors) == 0 {
		return nil
	}
	data := uint64(f.DataOffset)
	if data > uint64(size) {
		return &FormatError{Offset: size, Msg: fmt.Sprintf("data section at %d is past the end of the file", data), Err: io.ErrUnexpectedEOF}
	}
	avail := uint64(size) - data
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		oa, ob := f.Tensors[a].Offset, f.Tensors[b].Offset
		if oa != ob {
			if oa < ob {
				return -1
			}
			return 1
		}
		return a - b
	})
	var prevEnd uint64
	var prevName string
	for _, i := range order {
		t := f.Tensors[i]
		if t.Offset > avail || t.Size > avail-t.Offset {
			return &FormatError{Offset: size, Msg: fmt.Sprintf("tensor %q: %d bytes at data offset %d run past the end of the file (%d data bytes)", t.Name, t.Size, t.Offset, avail), Err: io.ErrUnexpectedEOF}
		}
		if t.Offset < prevEnd {
			return &FormatError{Offset: int64(data + t.Offset), Msg: fmt.Sprintf("tensor %q at data offset %d overlaps tensor %q (ends at %d)", t.Name, t.Offset, prevName, prevEnd)}
		}
		if end := t.Offset + t.Size; end > prevEnd {
			prevEnd, prevName = end, t.Name
		}
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

func bitsReverse32(v uint32) uint32 {
	return v>>24 | (v>>8)&0xff00 | (v<<8)&0xff0000 | v<<24
}
