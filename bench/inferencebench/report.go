package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// table prints rows as Markdown or tab-separated text.
type table struct {
	markdown  bool
	rightFrom int // columns from this one on are right-aligned in Markdown
}

func (t table) print(cols []string, rows [][]string) {
	if t.markdown {
		fmt.Println("| " + strings.Join(cols, " | ") + " |")
		sep := "|"
		for i := range cols {
			if i >= t.rightFrom {
				sep += "---:|"
			} else {
				sep += "---|"
			}
		}
		fmt.Println(sep)
		for _, r := range rows {
			fmt.Println("| " + strings.Join(r, " | ") + " |")
		}
		fmt.Println()
		return
	}
	fmt.Println(strings.Join(cols, "\t"))
	for _, r := range rows {
		fmt.Println(strings.Join(r, "\t"))
	}
	fmt.Println()
}

func header(markdown bool, kv [][2]string) {
	for _, h := range kv {
		if markdown {
			fmt.Printf("- %s: `%s`\n", h[0], h[1])
		} else {
			fmt.Printf("%-12s %s\n", h[0]+":", h[1])
		}
	}
	fmt.Println()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1e3) }

// spread is a median and the range of per-repetition values.
type spread struct{ med, lo, hi float64 }

func summarize(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{med, s[0], s[len(s)-1]}
}

func (s spread) format(digits int) string {
	if s.lo == s.hi {
		return fmt.Sprintf("%.*f", digits, s.med)
	}
	return fmt.Sprintf("%.*f (%.*f-%.*f)", digits, s.med, digits, s.lo, digits, s.hi)
}

// metric is one line of the side-by-side table.
type metric struct {
	name           string
	outpost, llama []float64
	digits         int
	atLeast        float64 // the target ratio Outpost/llama.cpp, 0 for none
}

func report(c config, l *llamaCpp, runs []*quantRun) {
	hdr := [][2]string{
		{"command", "go run ./bench/inferencebench " + strings.Join(os.Args[1:], " ")},
		{"date", time.Now().UTC().Format(time.RFC3339)},
		{"go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
		{"cpus", fmt.Sprintf("%d (GOMAXPROCS %d); both engines run %d threads", runtime.NumCPU(), runtime.GOMAXPROCS(0), c.threads)},
	}
	if l != nil {
		hdr = append(hdr, [2]string{"llama.cpp", l.build + ", " + l.bin})
	} else {
		hdr = append(hdr, [2]string{"llama.cpp", "off"})
	}
	if len(runs) > 0 && runs[0].httpTok > 0 {
		hdr = append(hdr, [2]string{"http cost", fmt.Sprintf("%.1f µs CPU per streamed token", float64(runs[0].httpTok.Nanoseconds())/1e3)})
	}
	header(c.markdown, hdr)
	for _, qr := range runs {
		if c.markdown {
			fmt.Printf("#### %s\n\n", qr.quant)
		} else {
			fmt.Printf("== %s\n", qr.quant)
		}
		if qr.skipped != nil {
			fmt.Printf("skipped: %v\n\n", qr.skipped)
			continue
		}
		reportQuant(c, l, qr)
	}
}

func reportQuant(c config, l *llamaCpp, qr *quantRun) {
	cfg := qr.o.e.Config()
	m := qr.o.m
	hdr := [][2]string{
		{"model", fmt.Sprintf("%s (%d MiB, %d layers, load %s incl. reading every page)", qr.path, m.File.Size>>20, m.LM.NLayer, qr.o.load.Round(time.Millisecond))},
		{"engine", fmt.Sprintf("%s kernels, %d threads, %d KV blocks x %d tokens (float32), max %d seqs, token budget %d", cfg.Kernels.Name, cfg.Threads, cfg.KVBlocks, cfg.BlockTokens, cfg.MaxSeqs, cfg.TokenBudget)},
		{"load avg", fmt.Sprintf("%s at the start, %s at the end (1 minute)", qr.loadavg[0], qr.loadavg[1])},
	}
	if qr.lrows != nil && len(qr.lrows[0]) > 0 {
		hdr = append(hdr,
			[2]string{"llama-bench", qr.lrows[0][0].info},
			[2]string{"order", fmt.Sprintf("%d repetitions; per scenario the engines alternate which runs first", c.reps)},
			[2]string{"idle check", fmt.Sprintf("this process used %.2f s CPU during %.0f s of llama.cpp runs", qr.idleCPU.Seconds(), qr.llamaWall.Seconds())})
	}
	header(c.markdown, hdr)

	// Outpost, every repetition.
	var rows [][]string
	for si := range qr.scens {
		for rep, r := range qr.orows[si] {
			decode := "-"
			if r.decodePerSec > 0 {
				decode = fmt.Sprintf("%.2f", r.decodePerSec)
			}
			httpShare := "-"
			if r.decodeStep > 0 {
				httpShare = fmt.Sprintf("%.3f%%", 100*r.httpShare(qr.httpTok))
			}
			rows = append(rows, []string{"Outpost " + r.name, fmt.Sprint(rep + 1), fmt.Sprint(r.requests), fmt.Sprint(r.prompt), fmt.Sprint(r.tokens),
				fmt.Sprintf("%.1f", r.wall.Seconds()), fmt.Sprintf("%.2f", r.ttft.Seconds()), fmt.Sprintf("%.2f", r.tokPerSec), decode,
				ms(r.cpuPerToken), fmt.Sprintf("%.3f%%", 100*r.schedShare), httpShare, fmt.Sprint(r.cached)})
		}
	}
	table{c.markdown, 1}.print([]string{"scenario", "rep", "requests", "prompt tok", "gen tok", "wall s", "TTFT p50 s", "tok/s", "decode tok/s",
		"CPU ms/token", "sched+sampling", "HTTP", "cached tok"}, rows)

	if qr.lrows == nil {
		sideBySide(c, qr)
		return
	}
	rows = nil
	for si := range qr.scens {
		for rep, r := range qr.lrows[si] {
			decode, e2e := "-", "-"
			if r.decodePerSec > 0 {
				decode, e2e = fmt.Sprintf("%.2f", r.decodePerSec), fmt.Sprintf("%.2f", r.endToEnd)
			}
			rows = append(rows, []string{"llama.cpp " + r.name, fmt.Sprint(rep + 1), fmt.Sprintf("%.1f", r.wall.Seconds()),
				fmt.Sprintf("%.2f", r.tokPerSec), decode, e2e, fmt.Sprintf("%.2f", r.cpu.Seconds()), fmt.Sprint(r.tokens),
				ms(r.cpuPerToken()), fmt.Sprintf("%.1f", r.process.Seconds())})
		}
	}
	table{c.markdown, 1}.print([]string{"scenario", "rep", "timed s", "tok/s", "decode tok/s", "gen tok/s incl. prefill",
		"CPU s timed", "tokens", "CPU ms/token", "process CPU s"}, rows)

	sideBySide(c, qr)
}

// sideBySide prints the comparison: medians over the repetitions, their
// range, the ratio of the medians and the target.
func sideBySide(c config, qr *quantRun) {
	var mets []metric
	per := func(si int, fo func(row) float64, fl func(llamaRow) float64) ([]float64, []float64) {
		var o, l []float64
		for _, r := range qr.orows[si] {
			o = append(o, fo(r))
		}
		if qr.lrows != nil {
			for _, r := range qr.lrows[si] {
				l = append(l, fl(r))
			}
		}
		return o, l
	}
	tokPerSec := func(r row) float64 { return r.tokPerSec }
	lTokPerSec := func(r llamaRow) float64 { return r.tokPerSec }
	cpuMs := func(r row) float64 { return float64(r.cpuPerToken.Microseconds()) / 1e3 }
	lCPUMs := func(r llamaRow) float64 { return float64(r.cpuPerToken().Microseconds()) / 1e3 }
	for si, s := range qr.scens {
		switch s.name {
		case "prefill":
			o, l := per(si, tokPerSec, lTokPerSec)
			mets = append(mets, metric{name: fmt.Sprintf("prefill tok/s (%d-token prompt)", s.prompt), outpost: o, llama: l, digits: 1, atLeast: 0.5})
			o, l = per(si, func(r row) float64 { return float64(r.cpu.Microseconds()) / 1e3 / float64(r.prompt) }, lCPUMs)
			mets = append(mets, metric{name: "CPU ms per prompt token, prefill", outpost: o, llama: l, digits: 1})
		case "decode-1":
			o, l := per(si, tokPerSec, lTokPerSec)
			mets = append(mets, metric{name: fmt.Sprintf("batch-1 decode tok/s (%d tokens)", s.gen), outpost: o, llama: l, digits: 1, atLeast: 0.7})
			o, l = per(si, cpuMs, lCPUMs)
			mets = append(mets, metric{name: "CPU ms per generated token, batch 1", outpost: o, llama: l, digits: 1})
		default:
			target := 0.0
			if s.n == 8 {
				target = 1
			}
			o, l := per(si, func(r row) float64 { return r.decodePerSec }, func(r llamaRow) float64 { return r.decodePerSec })
			mets = append(mets, metric{name: fmt.Sprintf("aggregate decode tok/s, %d concurrent", s.n), outpost: o, llama: l, digits: 1, atLeast: target})
			o, l = per(si, tokPerSec, func(r llamaRow) float64 { return r.endToEnd })
			mets = append(mets, metric{name: fmt.Sprintf("generated tok/s incl. prefill, %d concurrent", s.n), outpost: o, llama: l, digits: 1})
			o, l = per(si, cpuMs, lCPUMs)
			mets = append(mets, metric{name: fmt.Sprintf("CPU ms per generated token incl. prefill, %d concurrent", s.n), outpost: o, llama: l, digits: 1})
		}
	}
	var rows [][]string
	for _, m := range mets {
		o, l := summarize(m.outpost), summarize(m.llama)
		ratio, target := "-", ""
		if l.med > 0 {
			ratio = fmt.Sprintf("%.2f", o.med/l.med)
		}
		if m.atLeast > 0 && l.med > 0 {
			verdict := "met"
			if o.med/l.med < m.atLeast {
				verdict = "not met"
			}
			target = fmt.Sprintf("≥ %.2f: %s", m.atLeast, verdict)
		}
		lv := "-"
		if len(m.llama) > 0 {
			lv = l.format(m.digits)
		}
		rows = append(rows, []string{m.name, o.format(m.digits), lv, ratio, target})
	}
	// The overhead target has no llama.cpp side.
	for si, s := range qr.scens {
		if s.n != 8 {
			continue
		}
		var v []float64
		for _, r := range qr.orows[si] {
			v = append(v, 100*(r.schedShare+r.httpShare(qr.httpTok)))
		}
		o := summarize(v)
		verdict := "met"
		if o.med > 3 {
			verdict = "not met"
		}
		rows = append(rows, []string{"sched+sampling+HTTP % of step time, 8 concurrent", o.format(2), "-", "-", "≤ 3%: " + verdict})
	}
	fmt.Printf("Side by side (median of %d, range in brackets; ratio = Outpost / llama.cpp, above 1 is more for Outpost):\n\n", c.reps)
	table{c.markdown, 1}.print([]string{"metric", "Outpost", "llama.cpp", "ratio", "target"}, rows)
}
