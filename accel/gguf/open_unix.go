//go:build unix

package gguf

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// Open memory-maps the file at path read-only and parses it. Tensor data
// stays in the mapping (off the Go heap); TensorData returns views into it.
// Close unmaps. Files larger than the address space (over 2 GiB on 32-bit
// platforms) cannot be mapped and fail with an error.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	size := st.Size()
	if size > math.MaxInt {
		return nil, fmt.Errorf("gguf: %s: %d bytes cannot be memory-mapped on this platform", path, size)
	}
	if size < int64(len(Magic)) {
		// mmap of an empty file fails; report the format problem instead.
		return nil, fmt.Errorf("open %s: %w", path, &FormatError{Offset: 0, Msg: fmt.Sprintf("file of %d bytes is too short", size)})
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gguf: mmap %s: %w", path, err)
	}
	f, err := Decode(data)
	if err != nil {
		_ = unix.Munmap(data)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.unmap = func() error { return unix.Munmap(data) }
	return f, nil
}
