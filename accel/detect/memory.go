package detect

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jaypipes/ghw"
)

// detectMemory reads /proc/meminfo for total and available memory, and asks
// ghw for the installed physical memory where sysfs lists memory blocks.
func detectMemory(opts Options) Memory {
	var m Memory
	data, err := os.ReadFile(filepath.Join(opts.ProcRoot, "meminfo"))
	if err == nil {
		var mi memInfo
		mi, err = parseMemInfo(data)
		m.TotalBytes, m.AvailableBytes = mi.TotalBytes, mi.AvailableBytes
		if err == nil && !mi.HasAvailable {
			m.Problems = append(m.Problems, "MemAvailable missing (kernel before 3.14): available memory estimated as MemFree+Buffers+Cached")
		}
	}
	if err != nil {
		m.Problems = append(m.Problems, "meminfo: "+short(err)+": total and available memory unknown")
	}
	if !opts.SkipGHW && hasMemoryBlocks(opts.SysRoot) {
		// ghw counts the online sysfs memory blocks. Without those blocks
		// (many ARM boards) it would scan every /var/log/syslog* file for a
		// boot message, which can take seconds, so it is not asked then.
		// When it cannot tell it says MemTotal, which adds nothing.
		if info, gerr := ghw.Memory(ghwArgs(opts)...); gerr == nil && info != nil && uint64(max(info.TotalPhysicalBytes, 0)) > m.TotalBytes {
			m.PhysicalBytes = uint64(info.TotalPhysicalBytes)
		}
	}
	return m
}

func hasMemoryBlocks(sysRoot string) bool {
	_, err := os.Stat(filepath.Join(sysRoot, "devices", "system", "memory", "block_size_bytes"))
	return err == nil
}

// memInfo is what parseMemInfo reads from /proc/meminfo.
type memInfo struct {
	TotalBytes     uint64
	AvailableBytes uint64
	// HasAvailable is false on kernels without MemAvailable; AvailableBytes
	// is then MemFree+Buffers+Cached.
	HasAvailable bool
}

// parseMemInfo reads the text of /proc/meminfo: "Key:   value kB" lines.
// Lines it does not understand are skipped; MemTotal is required.
func parseMemInfo(data []byte) (memInfo, error) {
	var (
		mi                   memInfo
		haveTotal            bool
		free, buffers, cache uint64
	)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key := string(bytes.TrimSpace(k))
		switch key {
		case "MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached":
		default:
			continue
		}
		n, err := meminfoValue(v)
		if err != nil {
			return memInfo{}, fmt.Errorf("%s: %w", key, err)
		}
		switch key {
		case "MemTotal":
			mi.TotalBytes, haveTotal = n, true
		case "MemAvailable":
			mi.AvailableBytes, mi.HasAvailable = n, true
		case "MemFree":
			free = n
		case "Buffers":
			buffers = n
		case "Cached":
			cache = n
		}
	}
	if !haveTotal {
		return memInfo{}, errors.New("no MemTotal line")
	}
	if !mi.HasAvailable {
		mi.AvailableBytes = satAdd(satAdd(free, buffers), cache)
	}
	if mi.AvailableBytes > mi.TotalBytes {
		mi.AvailableBytes = mi.TotalBytes
	}
	return mi, nil
}

// meminfoValue reads " 16303412 kB" (kibibytes, whatever the unit says) or
// a bare number of bytes.
func meminfoValue(v []byte) (uint64, error) {
	fields := bytes.Fields(v)
	if len(fields) == 0 || len(fields) > 2 {
		return 0, fmt.Errorf("malformed value %q", bytes.TrimSpace(v))
	}
	n, err := strconv.ParseUint(string(fields[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed value %q", fields[0])
	}
	if len(fields) == 2 {
		if !bytes.EqualFold(fields[1], []byte("kB")) {
			return 0, fmt.Errorf("unknown unit %q", fields[1])
		}
		if n > math.MaxUint64/1024 {
			return 0, fmt.Errorf("value %d kB too large", n)
		}
		n *= 1024
	}
	return n, nil
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
