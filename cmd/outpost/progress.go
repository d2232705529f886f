package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/outpost-iot/outpost/internal/units"
)

// progressBar draws "label [=====>    ] 45% 520MiB/1GiB" on a terminal,
// at most ten times a second. On anything but a terminal it stays quiet
// until Done, which prints one summary line.
type progressBar struct {
	w     io.Writer
	label string
	tty   bool

	mu    sync.Mutex
	last  time.Time
	start time.Time
}

func newProgressBar(w io.Writer, label string) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressBar{w: w, label: label, tty: tty, start: time.Now()}
}

// Update reports done of total bytes.
func (p *progressBar) Update(done, total int64) {
	if !p.tty || total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := float64(done) / float64(total)
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	if fill < width {
		bar = bar[:fill] + ">" + bar[fill+1:]
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%% %s/%s", p.label, bar, frac*100, roundSize(done), roundSize(total))
}

// Done ends the bar with a summary line.
func (p *progressBar) Done(total int64) {
	if p.tty {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "%s: %s in %s\n", p.label, roundSize(total), time.Since(p.start).Round(100*time.Millisecond))
}

// roundSize shows a byte count in the largest whole unit, like "520MiB".
func roundSize(n int64) string {
	for _, u := range []units.ByteSize{units.GiB, units.MiB, units.KiB} {
		if units.ByteSize(n) >= u {
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u), strings.TrimPrefix(u.String(), "1"))
		}
	}
	return fmt.Sprintf("%dB", n)
}
