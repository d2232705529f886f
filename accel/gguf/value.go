package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ValueType is the type of a metadata value (enum gguf_type).
type ValueType uint32

// Metadata value types with their GGUF ids.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32",
	"float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the GGUF name of the value type.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(t))
}

// valid reports whether t is a known value type.
func (t ValueType) valid() bool { return t <= ValueFloat64 }

// fixedSize returns the encoded size of a scalar of type t, or 0 for
// strings and arrays.
func (t ValueType) fixedSize() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// minSize is the smallest possible encoding of a value of type t, used to
// bound element counts against the bytes left in the file.
func (t ValueType) minSize() int {
	switch t {
	case ValueString:
		return 8 // u64 length
	case ValueArray:
		return 4 + 8 // element type + count
	}
	return t.fixedSize()
}

// Value is one typed metadata value, built with the constructors
// (Uint32Value, StringValue, ArrayValue, ...). The zero Value is a uint8 0.
type Value struct {
	typ  ValueType
	bits uint64 // integers (two's complement), float bits, bool
	str  string // ValueString: arbitrary bytes, kept exactly
	arr  *Array // ValueArray
}

// Constructors for scalar values.
func Uint8Value(v uint8) Value   { return Value{typ: ValueUint8, bits: uint64(v)} }
func Int8Value(v int8) Value     { return Value{typ: ValueInt8, bits: uint64(v)} }
func Uint16Value(v uint16) Value { return Value{typ: ValueUint16, bits: uint64(v)} }
func Int16Value(v int16) Value   { return Value{typ: ValueInt16, bits: uint64(v)} }
func Uint32Value(v uint32) Value { return Value{typ: ValueUint32, bits: uint64(v)} }
func Int32Value(v int32) Value   { return Value{typ: ValueInt32, bits: uint64(v)} }
func Uint64Value(v uint64) Value { return Value{typ: ValueUint64, bits: v} }
func Int64Value(v int64) Value   { return Value{typ: ValueInt64, bits: uint64(v)} }
func Float32Value(v float32) Value {
	return Value{typ: ValueFloat32, bits: uint64(math.Float32bits(v))}
}
func Float64Value(v float64) Value { return Value{typ: ValueFloat64, bits: math.Float64bits(v)} }

// BoolValue returns a bool value.
func BoolValue(v bool) Value {
	if v {
		return Value{typ: ValueBool, bits: 1}
	}
	return Value{typ: ValueBool}
}

// StringValue returns a string value; s may hold any bytes (not only UTF-8),
// and they are written and read back unchanged.
func StringValue(s string) Value { return Value{typ: ValueString, str: s} }

// ArrayValue returns an array value.
func ArrayValue(a *Array) Value { return Value{typ: ValueArray, arr: a} }

// StringsValue returns an array of strings (e.g. tokenizer.ggml.tokens).
func StringsValue(s []string) Value { return ArrayValue(NewStringArray(s)) }

// Float32sValue returns an array of float32 (e.g. tokenizer.ggml.scores).
func Float32sValue(v []float32) Value {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return ArrayValue(&Array{elem: ValueFloat32, n: len(v), raw: raw})
}

// Int32sValue returns an array of int32 (e.g. tokenizer.ggml.token_type).
func Int32sValue(v []int32) Value {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
	}
	return ArrayValue(&Array{elem: ValueInt32, n: len(v), raw: raw})
}

// Type returns the value's type.
func (v Value) Type() ValueType { return v.typ }

// Uint returns an unsigned integer value, or a non-negative signed one.
func (v Value) Uint() (uint64, bool) {
	switch v.typ {
	case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
		return v.bits, true
	case ValueInt8, ValueInt16, ValueInt32, ValueInt64:
		if i, _ := v.Int(); i >= 0 {
			return uint64(i), true
		}
	}
	return 0, false
}

// Int returns an integer value that fits in an int64.
func (v Value) Int() (int64, bool) {
	switch v.typ {
	case ValueUint8, ValueUint16, ValueUint32:
		return int64(v.bits), true
	case ValueUint64:
		if v.bits <= math.MaxInt64 {
			return int64(v.bits), true
		}
	case ValueInt8:
		return int64(int8(v.bits)), true
	case ValueInt16:
		return int64(int16(v.bits)), true
	case ValueInt32:
		return int64(int32(v.bits)), true
	case ValueInt64:
		return int64(v.bits), true
	}
	return 0, false
}

// Float returns a float32 or float64 value as float64.
func (v Value) Float() (float64, bool) {
	switch v.typ {
	case ValueFloat32:
		return float64(math.Float32frombits(uint32(v.bits))), true
	case ValueFloat64:
		return math.Float64frombits(v.bits), true
	}
	return 0, false
}

// Bool returns a bool value.
func (v Value) Bool() (bool, bool) { return v.bits != 0, v.typ == ValueBool }

// Str returns a string value, byte-exact.
func (v Value) Str() (string, bool) { return v.str, v.typ == ValueString }

// Array returns an array value.
func (v Value) Array() (*Array, bool) { return v.arr, v.typ == ValueArray && v.arr != nil }

// String formats the value for humans (not for machines).
func (v Value) String() string {
	switch v.typ {
	case ValueString:
		return fmt.Sprintf("%q", v.str)
	case ValueArray:
		if v.arr == nil {
			return "[]"
		}
		return fmt.Sprintf("[%d x %v]", v.arr.Len(), v.arr.elem)
	case ValueBool:
		return fmt.Sprint(v.bits != 0)
	case ValueFloat32, ValueFloat64:
		f, _ := v.Float()
		return fmt.Sprint(f)
	case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
		return fmt.Sprint(v.bits)
	case ValueInt8, ValueInt16, ValueInt32, ValueInt64:
		i, _ := v.Int()
		return fmt.Sprint(i)
	}
	return "invalid"
}

// Array is a homogeneous metadata array. Scalars are kept in their
// little-endian encoding (compact for large score tables), strings as Go
// strings (byte-exact), nested arrays as *Array.
type Array struct {
	elem ValueType
	n    int
	raw  []byte   // fixed-size element types: n*elem.fixedSize() bytes
	strs []string // ValueString
	arrs []*Array // ValueArray
}

// NewStringArray returns an array of strings.
func NewStringArray(s []string) *Array {
	return &Array{elem: ValueString, n: len(s), strs: slices.Clone(s)}
}

// NewArray returns an array of values that must all have type elem
// (nested arrays are allowed: elem ValueArray).
func NewArray(elem ValueType, vals []Value) (*Array, error) {
	if !elem.valid() {
		return nil, fmt.Errorf("gguf: invalid array element type %d", uint32(elem))
	}
	a := &Array{elem: elem, n: len(vals)}
	size := elem.fixedSize()
	for i, v := range vals {
		if v.typ != elem {
			return nil, fmt.Errorf("gguf: array element %d has type %v, want %v", i, v.typ, elem)
		}
		switch elem {
		case ValueString:
			a.strs = append(a.strs, v.str)
		case ValueArray:
			if v.arr == nil {
				return nil, fmt.Errorf("gguf: array element %d is a nil array", i)
			}
			a.arrs = append(a.arrs, v.arr)
		default:
			a.raw = binary.LittleEndian.AppendUint64(a.raw, v.bits)[:len(a.raw)+size]
		}
	}
	return a, nil
}

// Elem returns the element type.
func (a *Array) Elem() ValueType { return a.elem }

// Len returns the number of elements.
func (a *Array) Len() int { return a.n }

// Index returns element i; it panics if i is out of range.
func (a *Array) Index(i int) Value {
	if i < 0 || i >= a.n {
		panic(fmt.Sprintf("gguf: array index %d out of range [0,%d)", i, a.n))
	}
	switch a.elem {
	case ValueString:
		return StringValue(a.strs[i])
	case ValueArray:
		return ArrayValue(a.arrs[i])
	}
	size := a.elem.fixedSize()
	var b [8]byte
	copy(b[:], a.raw[i*size:(i+1)*size])
	return Value{typ: a.elem, bits: binary.LittleEndian.Uint64(b[:])}
}

// Strings returns a copy of a string array's elements, byte-exact.
func (a *Array) Strings() ([]string, bool) {
	if a.elem != ValueString {
		return nil, false
	}
	return slices.Clone(a.strs), true
}

// Float32s returns a float32 array's elements.
func (a *Array) Float32s() ([]float32, bool) {
	if a.elem != ValueFloat32 {
		return nil, false
	}
	out := make([]float32, a.n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.raw[4*i:]))
	}
	return out, true
}

// Int32s returns an int32 array's elements.
func (a *Array) Int32s() ([]int32, bool) {
	if a.elem != ValueInt32 {
		return nil, false
	}
	out := make([]int32, a.n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(a.raw[4*i:]))
	}
	return out, true
}

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
}

// Metadata is the ordered list of key/value pairs of a GGUF file, with
// lookup by key. Keys are unique. The zero Metadata is empty and ready to
// use.
type Metadata struct {
	kvs   []KV
	index map[string]int
}

// Errors returned by the Metadata lookup helpers, wrapped with the key.
var (
	// ErrNoKey means the key is absent.
	ErrNoKey = errors.New("key not found")
	// ErrValueType means the key holds a value of another type.
	ErrValueType = errors.New("wrong value type")
)

// Set adds key with value v at the end, or replaces the value in place if
// the key is already present (its position is kept).
func (m *Metadata) Set(key string, v Value) {
	if i, ok := m.index[key]; ok {
		m.kvs[i].Value = v
		return
	}
	if m.index == nil {
		m.index = make(map[string]int)
	}
	m.index[key] = len(m.kvs)
	m.kvs = append(m.kvs, KV{key, v})
}

// add appends a pair and fails on a duplicate key.
func (m *Metadata) add(key string, v Value) bool {
	if _, ok := m.index[key]; ok {
		return false
	}
	m.Set(key, v)
	return true
}

// Len returns the number of pairs.
func (m *Metadata) Len() int { return len(m.kvs) }

// KVs returns the pairs in file order. The slice must not be modified.
func (m *Metadata) KVs() []KV { return m.kvs }

// Get returns the value for key.
func (m *Metadata) Get(key string) (Value, bool) {
	i, ok := m.index[key]
	if !ok {
		return Value{}, false
	}
	return m.kvs[i].Value, true
}

func (m *Metadata) lookup(key string) (Value, error) {
	v, ok := m.Get(key)
	if !ok {
		return Value{}, fmt.Errorf("gguf: metadata %q: %w", key, ErrNoKey)
	}
	return v, nil
}

func typeErr(key string, v Value, want string) error {
	return fmt.Errorf("gguf: metadata %q is %v, want %s: %w", key, v.typ, want, ErrValueType)
}

// String returns the string at key, byte-exact.
func (m *Metadata) String(key string) (string, error) {
	v, err := m.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.Str()
	if !ok {
		return "", typeErr(key, v, "string")
	}
	return s, nil
}

// Uint returns the integer at key (any integer type, non-negative).
func (m *Metadata) Uint(key string) (uint64, error) {
	v, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	u, ok := v.Uint()
	if !ok {
		return 0, typeErr(key, v, "non-negative integer")
	}
	return u, nil
}

// Int returns the integer at key (any integer type that fits int64).
func (m *Metadata) Int(key string) (int64, error) {
	v, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	i, ok := v.Int()
	if !ok {
		return 0, typeErr(key, v, "integer")
	}
	return i, nil
}

// Float returns the float32 or float64 at key.
func (m *Metadata) Float(key string) (float64, error) {
	v, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	f, ok := v.Float()
	if !ok {
		return 0, typeErr(key, v, "float")
	}
	return f, nil
}

// Bool returns the bool at key.
func (m *Metadata) Bool(key string) (bool, error) {
	v, err := m.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := v.Bool()
	if !ok {
		return false, typeErr(key, v, "bool")
	}
	return b, nil
}

// Array returns the array at key.
func (m *Metadata) Array(key string) (*Array, error) {
	v, err := m.lookup(key)
	if err != nil {
		return nil, err
	}
	a, ok := v.Array()
	if !ok {
		return nil, typeErr(key, v, "array")
	}
	return a, nil
}

// Strings returns the string array at key (e.g. tokenizer.ggml.tokens),
// every string byte-exact, whitespace and invalid UTF-8 included.
func (m *Metadata) Strings(key string) ([]string, error) {
	a, err := m.Array(key)
	if err != nil {
		return nil, err
	}
	s, ok := a.Strings()
	if !ok {
		return nil, fmt.Errorf("gguf: metadata %q is array of %v, want string: %w", key, a.elem, ErrValueType)
	}
	return s, nil
}

// Float32s returns the float32 array at key (e.g. tokenizer.ggml.scores).
func (m *Metadata) Float32s(key string) ([]float32, error) {
	a, err := m.Array(key)
	if err != nil {
		return nil, err
	}
	f, ok := a.Float32s()
	if !ok {
		return nil, fmt.Errorf("gguf: metadata %q is array of %v, want float32: %w", key, a.elem, ErrValueType)
	}
	return f, nil
}

// Int32s returns the int32 array at key (e.g. tokenizer.ggml.token_type).
func (m *Metadata) Int32s(key string) ([]int32, error) {
	a, err := m.Array(key)
	if err != nil {
		return nil, err
	}
	v, ok := a.Int32s()
	if !ok {
		return nil, fmt.Errorf("gguf: metadata %q is array of %v, want int32: %w", key, a.elem, ErrValueType)
	}
	return v, nil
}
