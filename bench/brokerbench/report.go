package main

// Output: environment header and the comparison table (text or Markdown).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// commandLine reconstructs how we were invoked (a `go run` binary lives in a
// go-build temp dir, so show `go run ./bench/brokerbench` instead).
func commandLine() string {
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = shellQuote(a)
	}
	if strings.Contains(os.Args[0], "go-build") {
		args[0] = "go run ./bench/brokerbench"
	}
	return strings.Join(args, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func goVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return runtime.Version() + " (go command not found; harness runtime)"
}

// cpuModel returns "N x model name" from /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return fmt.Sprintf("unknown (%d CPUs)", runtime.NumCPU())
	}
	defer f.Close()
	model, n := "", 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if model == "" {
		model = "unknown model"
	}
	return fmt.Sprintf("%d x %s", n, model)
}

type header struct {
	command, date, goVersion, cpu, mosquitto string
	outpost, mosquittoAddr, outpostAddr      string
	settings                                 string
}

func printHeader(w io.Writer, h header, markdown bool) {
	rows := [][2]string{
		{"command", h.command},
		{"date", h.date},
		{"go", h.goVersion},
		{"cpu", h.cpu},
		{"mosquitto", h.mosquitto},
		{"outpost", h.outpost},
		{"addresses", "outpost " + h.outpostAddr + ", mosquitto " + h.mosquittoAddr},
		{"settings", h.settings},
	}
	for _, r := range rows {
		if markdown {
			fmt.Fprintf(w, "- %s: `%s`\n", r[0], r[1])
		} else {
			fmt.Fprintf(w, "%-10s %s\n", r[0]+":", r[1])
		}
	}
	fmt.Fprintln(w)
}

// row is one scenario: the median results for each broker.
type row struct {
	scenario           string
	outpost, mosquitto result
}

var tableHeader = []string{"scenario", "outpost msg/s", "mosquitto msg/s", "ratio (o/m)",
	"outpost p50/p99", "mosquitto p50/p99", "p99 ratio (o/m)", "loss outpost / mosquitto"}

func (r row) cells() []string {
	o, m := r.outpost, r.mosquitto
	rate := func(x result) string {
		if x.err != nil {
			return "ERR"
		}
		return fmtCount(x.throughput)
	}
	lat := func(x result) string {
		if x.err != nil {
			return "ERR"
		}
		return fmtLatency(x.p50) + " / " + fmtLatency(x.p99)
	}
	loss := func(x result) string {
		if x.err != nil {
			return "ERR"
		}
		return fmt.Sprintf("%d (%s%%)", x.lost, fmtPct(x.lossPct))
	}
	ratio, p99ratio := "-", "-"
	if o.err == nil && m.err == nil {
		if m.throughput > 0 {
			ratio = fmt.Sprintf("%.2fx", o.throughput/m.throughput)
		}
		if m.p99 > 0 {
			p99ratio = fmt.Sprintf("%.2fx", float64(o.p99)/float64(m.p99))
		}
	}
	return []string{r.scenario, rate(o), rate(m), ratio, lat(o), lat(m), p99ratio, loss(o) + " / " + loss(m)}
}

func printTable(w io.Writer, rows []row, markdown bool) {
	if markdown {
		fmt.Fprintln(w, "| "+strings.Join(tableHeader, " | ")+" |")
		seps := make([]string, len(tableHeader))
		for i := range seps {
			seps[i] = "---:"
		}
		seps[0] = "---"
		fmt.Fprintln(w, "|"+strings.Join(seps, "|")+"|")
		for _, r := range rows {
			fmt.Fprintln(w, "| "+strings.Join(r.cells(), " | ")+" |")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	tw.Flush()
}

// fmtCount formats 1234567.8 as "1,234,568".
func fmtCount(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtLatency prints three significant digits: 412µs, 1.23ms, 12.3ms, 1.20s.
func fmtLatency(d time.Duration) string {
	var v float64
	var unit string
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		v, unit = float64(d)/float64(time.Microsecond), "µs"
	case d < time.Second:
		v, unit = float64(d)/float64(time.Millisecond), "ms"
	default:
		v, unit = d.Seconds(), "s"
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f%s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	default:
		return fmt.Sprintf("%.2f%s", v, unit)
	}
}

func fmtPct(p float64) string {
	switch {
	case p == 0:
		return "0"
	case p < 0.01:
		return "<0.01"
	default:
		return fmt.Sprintf("%.2f", p)
	}
}

// median combines repetitions metric by metric.
func median(rs []result) result {
	var ok []result
	var out result
	for _, r := range rs {
		out.notes = append(out.notes, r.notes...)
		if r.err == nil {
			ok = append(ok, r)
		} else if out.err == nil {
			out.err = r.err
		}
	}
	if len(ok) == 0 {
		return out
	}
	out.err = nil // at least one repetition succeeded
	var tp, lp []float64
	var p50, p99 []time.Duration
	var sent, exp, lost, dups []int64
	for _, r := range ok {
		tp, lp = append(tp, r.throughput), append(lp, r.lossPct)
		p50, p99 = append(p50, r.p50), append(p99, r.p99)
		sent, exp = append(sent, r.sent), append(exp, r.expected)
		lost, dups = append(lost, r.lost), append(dups, r.dups)
	}
	out.throughput, out.lossPct = medianFloat(tp), medianFloat(lp)
	out.p50, out.p99 = medianDuration(p50), medianDuration(p99)
	out.sent, out.expected = medianInt(sent), medianInt(exp)
	out.lost, out.dups = medianInt(lost), medianInt(dups)
	if len(ok) < len(rs) {
		out.notes = append(out.notes, fmt.Sprintf("median of %d of %d repetitions (others failed)", len(ok), len(rs)))
	}
	return out
}
