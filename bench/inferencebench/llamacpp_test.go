package main

import (
	"testing"
	"time"
)

func TestProcCPU(t *testing.T) {
	// A command with spaces and a parenthesis, then the fields of proc(5):
	// utime 250 and stime 30 ticks.
	stat := "4242 (llama (bench) x) S 1 4242 4242 0 -1 4194304 900 0 0 0 250 30 0 0 20 0 3 0 100 0 0"
	got, err := procCPU([]byte(stat))
	if err != nil || got != 2800*time.Millisecond {
		t.Fatalf("procCPU = %v, %v; want 2.8s", got, err)
	}
	if _, err := procCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("procCPU accepted a short line")
	}
}

func TestParseBatchedRow(t *testing.T) {
	r, ok := parseBatchedRow("|   128 |     32 |    8 |   1280 |    7.512 |   136.32 |    3.300 |    77.58 |   10.812 |   118.38 |")
	want := batchedRow{pp: 128, tg: 32, pl: 8, tPP: 7.512, sPP: 136.32, tTG: 3.3, sTG: 77.58, t: 10.812, sAll: 118.38}
	if !ok || r != want {
		t.Fatalf("parseBatchedRow = %+v, %v; want %+v", r, ok, want)
	}
	for _, s := range []string{"|    PP |     TG |    B |", "|-------|--------|", "main: n_kv_max = 1280"} {
		if _, ok := parseBatchedRow(s); ok {
			t.Errorf("parseBatchedRow accepted %q", s)
		}
	}
}

func TestParseBatched(t *testing.T) {
	lines := []line{
		{text: "llama_model_loader: loaded meta data", stderr: true, cpu: 900 * time.Millisecond, ok: true},
		{text: "main: n_kv_max = 1280, n_batch = 2048", cpu: 2 * time.Second, ok: true},
		{text: "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |", cpu: 2 * time.Second, ok: true},
		{text: "|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|", cpu: 2 * time.Second, ok: true},
		{text: "|   128 |     32 |    8 |   1280 |    7.500 |   136.53 |    2.500 |   102.40 |   10.000 |   128.00 |"},
	}
	r, err := parseBatched(lines, 23*time.Second) // the last line came after exit
	if err != nil {
		t.Fatal(err)
	}
	if r.decodePerSec != 102.4 || r.endToEnd != 25.6 || r.tokens != 256 || r.cpu != 21*time.Second || r.wall != 10*time.Second {
		t.Fatalf("parseBatched = %+v", r)
	}
}

func TestParseLlamaBench(t *testing.T) {
	lines := []line{
		{text: "llama-bench: benchmark 1/1: starting", stderr: true, cpu: time.Second, ok: true},
		{text: "llama-bench: benchmark 1/1: warmup generation run", stderr: true, cpu: 1500 * time.Millisecond, ok: true},
		{text: "llama-bench: benchmark 1/1: generation run 1/2", stderr: true, cpu: 2 * time.Second, ok: true},
		{text: "llama-bench: benchmark 1/1: generation run 2/2", stderr: true, cpu: 5 * time.Second, ok: true},
		{text: `{"build_commit": "80fb11a", "cpu_info": "AMD EPYC", "model_type": "llama 1B Q8_0", "n_threads": 2, "n_prompt": 0, "n_gen": 64, "type_k": "f16", "flash_attn": -1, "avg_ns": 1600000000, "avg_ts": 40.0, "samples_ns": [1600000000, 1600000000]}`, cpu: 8400 * time.Millisecond, ok: true},
	}
	r, err := parseLlamaBench(lines, 9*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.tokPerSec != 40 || r.tokens != 128 || r.cpu != 6400*time.Millisecond || r.cpuPerToken() != 50*time.Millisecond || r.wall != 3200*time.Millisecond {
		t.Fatalf("parseLlamaBench = %+v", r)
	}
	if _, err := parseLlamaBench(lines[4:], 9*time.Second); err == nil {
		t.Fatal("parseLlamaBench accepted a record without a progress line")
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{3, 1, 2, 10})
	if s != (spread{2.5, 1, 10}) || s.format(1) != "2.5 (1.0-10.0)" {
		t.Fatalf("summarize = %+v %q", s, s.format(1))
	}
	if got := summarize([]float64{4}).format(2); got != "4.00" {
		t.Fatalf("one value: %q", got)
	}
}
