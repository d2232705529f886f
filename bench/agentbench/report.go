package main

// report.go: the header and the two tables, as text or Markdown.

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// loadRow is one agent count: the stateful and the stateless run.
type loadRow struct {
	agents              int
	stateful, stateless loadResult
}

func printHeader(w io.Writer, cfg config, at time.Time) {
	lines := [][2]string{
		{"command", cfg.commandLineArg},
		{"date", at.UTC().Format(time.RFC3339)},
		{"go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
		{"cpu", cpuName()},
		{"data", cfg.dir + " (agent databases on this file system)"},
		{"settings", fmt.Sprintf("MQTT 3.1.1, CBOR, QoS 1 both ways; %d readings in flight per run over at most %d connections; warm-up %s + %s measured, median of %d run(s); idle timeout %s (%s above %d agents: open-file limit %d, %d per awake agent); stateless database: %s; GOMAXPROCS %d",
			cfg.inflight, cfg.conns, cfg.warmup, cfg.duration, cfg.reps, cfg.idle, cfg.idleCrowded, cfg.maxAwake, cfg.fdLimit, fdsPerAgent, cfg.statelessDB, runtime.GOMAXPROCS(0))},
	}
	for _, l := range lines {
		if cfg.markdown {
			fmt.Fprintf(w, "- %s: `%s`\n", l[0], l[1])
		} else {
			fmt.Fprintf(w, "%-9s %s\n", l[0]+":", l[1])
		}
	}
	fmt.Fprintln(w)
}

// cpuName is "N x model" from /proc/cpuinfo.
func cpuName() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model := "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			model = strings.TrimSpace(v)
			break
		}
	}
	return fmt.Sprintf("%d x %s", runtime.NumCPU(), model)
}

func table(w io.Writer, markdown bool, head []string, rows [][]string) {
	if markdown {
		fmt.Fprintf(w, "| %s |\n|---%s|\n", strings.Join(head, " | "), strings.Repeat("|---:", len(head)-1))
		for _, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func printLoad(w io.Writer, cfg config, rows []loadRow) {
	head := []string{"agents", "conns x window", "stateful msg/s", "stateless msg/s", "msg/s ratio (sf/sl)",
		"stateful p50 / p99", "stateless p50 / p99", "p99 ratio (sl/sf)", "wakes/msg sf / sl", "first contact sf / sl", "errors sf / sl"}
	var cells [][]string
	var notes []string
	for _, r := range rows {
		sf, sl := r.stateful, r.stateless
		ratio, p99ratio := "-", "-"
		if sf.err == nil && sl.err == nil && sl.rate > 0 && sf.p99 > 0 {
			ratio = fmt.Sprintf("%.1fx", sf.rate/sl.rate)
			p99ratio = fmt.Sprintf("%.1fx", float64(sl.p99)/float64(sf.p99))
		}
		cells = append(cells, []string{
			fmt.Sprint(r.agents), fmt.Sprintf("%d x %d", sf.conns, sf.window),
			rate(sf), rate(sl), ratio, latencies(sf.p50, sf.p99, sf.err), latencies(sl.p50, sl.p99, sl.err), p99ratio,
			wakesPerMsg(sf) + " / " + wakesPerMsg(sl),
			fmtDuration(sf.setup) + " / " + fmtDuration(sl.setup),
			fmt.Sprintf("%d / %d", sf.errs+int64(sf.lost), sl.errs+int64(sl.lost)),
		})
		for _, x := range []loadResult{sf, sl} {
			if x.err != nil {
				notes = append(notes, fmt.Sprintf("%s, %d agents: %v", x.class, x.agents, x.err))
			}
			if x.errs > 0 {
				notes = append(notes, fmt.Sprintf("%s, %d agents: %d errors, the last: %s", x.class, x.agents, x.errs, x.lastErr))
			}
			if x.lost > 0 {
				notes = append(notes, fmt.Sprintf("%s, %d agents: %d replies missing after the drain", x.class, x.agents, x.lost))
			}
		}
		if sf.idle != cfg.idle {
			notes = append(notes, fmt.Sprintf("%d agents: idle timeout %s, since %d awake agents would need about %d open files (limit %d)",
				r.agents, sf.idle, r.agents, r.agents*fdsPerAgent, cfg.fdLimit))
		}
	}
	table(w, cfg.markdown, head, cells)
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

func rate(r loadResult) string {
	if r.err != nil {
		return "ERR"
	}
	return fmtCount(r.rate)
}

func latencies(p50, p99 time.Duration, err error) string {
	if err != nil {
		return "ERR"
	}
	return fmtDuration(p50) + " / " + fmtDuration(p99)
}

func wakesPerMsg(r loadResult) string {
	if r.msgs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(r.wakes)/float64(r.msgs))
}

func printWake(w io.Writer, cfg config, r wakeResult) {
	fmt.Fprintf(w, "\nHibernation (%s): %d agents over %d connections, idle timeout %s; all hibernated %s after the awake measurement; wake latency over %d agents, one at a time.\n\n",
		classCounter, r.agents, r.conns, r.idle, fmtDuration(r.hibernateWait), r.samples)
	if r.err != nil {
		fmt.Fprintf(w, "ERR: %v\n", r.err)
		return
	}
	kib := func(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
	table(w, cfg.markdown, []string{"measure", "value"}, [][]string{
		{"round trip to a hibernated agent (wakes it), p50 / p99", latencies(r.coldP50, r.coldP99, nil)},
		{"round trip to the same agent right after, p50 / p99", latencies(r.warmP50, r.warmP99, nil)},
		{"wake cost, p50 ratio (hibernated/warm)", fmt.Sprintf("%.1fx", float64(r.coldP50)/float64(max(r.warmP50, 1)))},
		{"memory per awake agent, Go heap / RSS", kib(r.heapAwake) + " / " + kib(r.rssAwake)},
		{"memory per hibernated agent, Go heap / RSS", kib(r.heapHibernated) + " / " + kib(r.rssHibernated)},
	})
}

// fmtCount prints a rate with thousands separators.
func fmtCount(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fmtDuration keeps three significant digits.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
