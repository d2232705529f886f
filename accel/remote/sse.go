package remote

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxEventBytes bounds one server-sent event's data.
const MaxEventBytes = 1 << 20

// sseReader reads the data of server-sent events (the WHATWG
// EventSource format): lines "field: value" or "field:value", events
// ended by a blank line, comment lines starting with ':', multi-line data
// joined with '\n', LF or CRLF line ends (not lone CRs). Only the data field is
// kept; events without data are skipped.
type sseReader struct {
	br   *bufio.Reader
	data []byte
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{br: bufio.NewReaderSize(r, 16<<10)} }

var errEventTooLarge = fmt.Errorf("remote: server-sent event over %d bytes", MaxEventBytes)

// line returns the next line without its end, or io.EOF.
func (s *sseReader) line() ([]byte, error) {
	var out []byte
	for {
		b, err := s.br.ReadSlice('\n')
		out = append(out, b...)
		if len(out) > MaxEventBytes+64 {
			return nil, errEventTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && len(out) == 0 {
			return nil, err
		}
		out = bytes.TrimSuffix(out, []byte("\n"))
		out = bytes.TrimSuffix(out, []byte("\r"))
		return out, nil
	}
}

// Next returns the data of the next event, or io.EOF at the end of the
// stream (an unterminated last event is returned first).
func (s *sseReader) Next() ([]byte, error) {
	s.data = s.data[:0]
	have := false
	for {
		ln, err := s.line()
		if err != nil {
			if errors.Is(err, io.EOF) && have {
				return s.data, nil
			}
			return nil, err
		}
		if len(ln) == 0 {
			if have {
				return s.data, nil
			}
			continue
		}
		if ln[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(ln, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		if string(field) != "data" {
			continue
		}
		if have {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		have = true
		if len(s.data) > MaxEventBytes {
			return nil, errEventTooLarge
		}
	}
}
