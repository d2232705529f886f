package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// llamaCpp runs llama.cpp's own benchmark programs (llama-bench and
// llama-batched-bench, built by bench/llamacpp/build.sh) on the same file,
// one process per test, and measures each process's CPU time from
// /proc/PID/stat around the part that is timed.
type llamaCpp struct {
	bin     string // folder holding llama-bench and llama-batched-bench
	threads int
	build   string // the build stamp's description
}

// findLlamaCpp resolves --llamacpp: "off" (nil), "auto" (build or reuse
// the cached build with bench/llamacpp/build.sh) or a folder.
func findLlamaCpp(flag string, threads int) (*llamaCpp, error) {
	if flag == "off" {
		return nil, nil
	}
	bin := flag
	if flag == "auto" {
		cmd := exec.Command(filepath.Join("bench", "llamacpp", "build.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("building llama.cpp (bench/llamacpp/build.sh): %w; --llamacpp=off runs Outpost alone", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		bin = lines[len(lines)-1]
	}
	for _, p := range []string{"llama-bench", "llama-batched-bench"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return nil, fmt.Errorf("--llamacpp %s: %w (build it with bench/llamacpp/build.sh)", flag, err)
		}
	}
	l := &llamaCpp{bin: bin, threads: threads, build: "unknown build"}
	if b, err := os.ReadFile(filepath.Join(bin, "..", "..", "stamp")); err == nil {
		if lines := strings.Split(string(b), "\n"); len(lines) > 1 {
			l.build = lines[1]
		}
	}
	return l, nil
}

// llamaRow is one llama.cpp test.
type llamaRow struct {
	name         string
	tokPerSec    float64       // headline: pp or tg t/s, or aggregate decode (S_TG)
	decodePerSec float64       // batched: S_TG
	endToEnd     float64       // batched: generated tokens / (T_PP + T_TG)
	wall         time.Duration // the timed part
	cpu          time.Duration // CPU of the timed part
	tokens       int           // tokens cpu is divided by (generated, or prompt for pp)
	process      time.Duration // CPU of the whole process, load and warm-up included
	info         string        // llama-bench's build, CPU and attention settings
}

func (r llamaRow) cpuPerToken() time.Duration {
	if r.tokens == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.tokens)
}

// line is one output line and the process's CPU time when it was read.
type line struct {
	text   string
	stderr bool
	cpu    time.Duration
	ok     bool // cpu was read from /proc
}

// procCPU parses user+system time (clock ticks of 10 ms) from the text of
// /proc/PID/stat.
func procCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command field")
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the command: state is field 3, utime 14, stime 15 (1-based).
	if len(f) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("proc stat: %w", err)
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(u+s) * tick, nil
}

// runSampled runs a program and returns its output lines, each with the
// process's CPU time at the moment the line arrived.
func runSampled(ctx context.Context, path string, args ...string) ([]line, time.Duration, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	statPath := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	var mu sync.Mutex
	var lines []line
	read := func(r io.Reader, isErr bool, wg *sync.WaitGroup) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := line{text: sc.Text(), stderr: isErr}
			if b, err := os.ReadFile(statPath); err == nil {
				l.cpu, err = procCPU(b)
				l.ok = err == nil
			}
			mu.Lock()
			lines = append(lines, l)
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go read(stdout, false, &wg)
	go read(stderr, true, &wg)
	wg.Wait()
	err = cmd.Wait()
	var total time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		total = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if err != nil {
		var tail []string
		for _, l := range lines[max(0, len(lines)-5):] {
			tail = append(tail, l.text)
		}
		return lines, total, fmt.Errorf("%s: %w: %s", filepath.Base(path), err, strings.Join(tail, " | "))
	}
	return lines, total, nil
}

// cpuAt is the CPU time of l, or the process total when l arrived after
// the process had gone.
func cpuAt(l line, total time.Duration) time.Duration {
	if l.ok {
		return l.cpu
	}
	return total
}

// benchJSON is the part of a llama-bench jsonl record the bench reads.
type benchJSON struct {
	BuildCommit string    `json:"build_commit"`
	CPUInfo     string    `json:"cpu_info"`
	ModelType   string    `json:"model_type"`
	NThreads    int       `json:"n_threads"`
	NPrompt     int       `json:"n_prompt"`
	NGen        int       `json:"n_gen"`
	TypeK       string    `json:"type_k"`
	FlashAttn   any       `json:"flash_attn"`
	AvgNs       float64   `json:"avg_ns"`
	AvgTs       float64   `json:"avg_ts"`
	SamplesNs   []float64 `json:"samples_ns"`
}

// parseLlamaBench finds the timed runs of one llama-bench test in its
// output (run with --progress -o jsonl): from the progress line of the
// first timed run to the jsonl record.
func parseLlamaBench(lines []line, total time.Duration) (llamaRow, error) {
	var r llamaRow
	var start *line
	for i := range lines {
		l := &lines[i]
		if l.stderr && start == nil && (strings.Contains(l.text, ": prompt run 1/") || strings.Contains(l.text, ": generation run 1/")) {
			start = l
		}
		if l.stderr || !strings.HasPrefix(l.text, "{") {
			continue
		}
		var j benchJSON
		if err := json.Unmarshal([]byte(l.text), &j); err != nil {
			return r, fmt.Errorf("llama-bench record: %w", err)
		}
		if start == nil {
			return r, errors.New("llama-bench printed no progress line (needs --progress)")
		}
		reps := max(1, len(j.SamplesNs))
		r.tokPerSec = j.AvgTs
		r.wall = time.Duration(j.AvgNs * float64(reps))
		r.tokens = reps * (j.NPrompt + j.NGen)
		r.cpu = cpuAt(*l, total) - start.cpu
		r.process = total
		r.info = fmt.Sprintf("commit %s, %s, %s, %d threads, KV %s, flash_attn %v", j.BuildCommit, j.CPUInfo, j.ModelType, j.NThreads, j.TypeK, j.FlashAttn)
		return r, nil
	}
	return r, errors.New("llama-bench printed no jsonl record")
}

// batchedRow is one row of llama-batched-bench's table.
type batchedRow struct {
	pp, tg, pl                  int
	tPP, sPP, tTG, sTG, t, sAll float64
}

// parseBatchedRow reads "|   128 |     32 |    8 |  1280 | 7.5 | 136.1 | ...".
func parseBatchedRow(s string) (batchedRow, bool) {
	var r batchedRow
	if !strings.HasPrefix(s, "|") {
		return r, false
	}
	f := strings.Split(strings.Trim(s, "| "), "|")
	if len(f) != 10 {
		return r, false
	}
	ints := []*int{&r.pp, &r.tg, &r.pl, nil}
	floats := []*float64{&r.tPP, &r.sPP, &r.tTG, &r.sTG, &r.t, &r.sAll}
	for i, v := range f {
		v = strings.TrimSpace(v)
		var err error
		switch {
		case i < 3:
			*ints[i], err = strconv.Atoi(v)
		case i == 3:
			_, err = strconv.Atoi(v)
		default:
			*floats[i-4], err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			return r, false
		}
	}
	return r, true
}

// parseBatched finds the one row of a llama-batched-bench run; its CPU is
// counted from the table header, which is printed after the warm-up.
func parseBatched(lines []line, total time.Duration) (llamaRow, error) {
	var r llamaRow
	var start *line
	for i := range lines {
		l := &lines[i]
		if strings.HasPrefix(l.text, "|    PP") {
			start = l
			continue
		}
		b, ok := parseBatchedRow(l.text)
		if !ok {
			continue
		}
		if start == nil {
			return r, errors.New("llama-batched-bench printed no table header")
		}
		r.tokPerSec = b.sTG
		r.decodePerSec = b.sTG
		r.endToEnd = float64(b.pl*b.tg) / b.t
		r.wall = time.Duration(b.t * float64(time.Second))
		r.tokens = b.pl * b.tg
		r.cpu = cpuAt(*l, total) - start.cpu
		r.process = total
		return r, nil
	}
	return r, errors.New("llama-batched-bench printed no result row")
}

// prefill runs llama-bench's pp test: n prompt tokens in one batch.
func (l *llamaCpp) prefill(ctx context.Context, model string, n int) (llamaRow, error) {
	lines, total, err := runSampled(ctx, filepath.Join(l.bin, "llama-bench"), "-m", model, "-t", strconv.Itoa(l.threads),
		"-p", strconv.Itoa(n), "-n", "0", "-r", "1", "-o", "jsonl", "--progress")
	if err != nil {
		return llamaRow{}, err
	}
	r, err := parseLlamaBench(lines, total)
	r.name = "prefill"
	return r, err
}

// decode runs llama-bench's tg test: n tokens from an empty context.
func (l *llamaCpp) decode(ctx context.Context, model string, n int) (llamaRow, error) {
	lines, total, err := runSampled(ctx, filepath.Join(l.bin, "llama-bench"), "-m", model, "-t", strconv.Itoa(l.threads),
		"-p", "0", "-n", strconv.Itoa(n), "-r", "1", "-o", "jsonl", "--progress")
	if err != nil {
		return llamaRow{}, err
	}
	r, err := parseLlamaBench(lines, total)
	r.name = "decode-1"
	return r, err
}

// batched runs llama-batched-bench for pl sequences of pp prompt and tg
// generated tokens, prompts in one batch, then tg steps of pl tokens.
func (l *llamaCpp) batched(ctx context.Context, model string, pl, pp, tg int) (llamaRow, error) {
	ctxLen := (pl*(pp+tg) + 255) / 256 * 256
	t := strconv.Itoa(l.threads)
	lines, total, err := runSampled(ctx, filepath.Join(l.bin, "llama-batched-bench"), "-m", model, "-t", t, "-tb", t,
		"-c", strconv.Itoa(ctxLen), "-b", "2048", "-ub", "512",
		"-npp", strconv.Itoa(pp), "-ntg", strconv.Itoa(tg), "-npl", strconv.Itoa(pl))
	if err != nil {
		return llamaRow{}, err
	}
	r, err := parseBatched(lines, total)
	r.name = fmt.Sprintf("concurrent-%d", pl)
	return r, err
}
