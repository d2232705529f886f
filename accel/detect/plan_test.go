package detect

import (
	"reflect"
	"strings"
	"testing"
)

// tinyLlama is TinyLlama-1.1B at q8_0: 22 layers, 4 KV heads of 64, a
// 2048-token context. One 16-token block is 2·22·4·64·16·2 = 360448 bytes;
// a full-context sequence is 128 blocks.
var tinyLlama = ModelShape{WeightBytes: 1_170_000_000, Layers: 22, KVHeads: 4, HeadDim: 64, ContextLength: 2048}

func cpu4() CPU { return CPU{PhysicalCores: 4, LogicalThreads: 8, UsableThreads: 8} }

func TestPlanFor(t *testing.T) {
	const GiB = 1 << 30
	cases := []struct {
		name  string
		r     Report
		model ModelShape
		want  Plan
	}{
		{
			name: "no model",
			r:    Report{CPU: cpu4(), Memory: Memory{TotalBytes: 8 * GiB, AvailableBytes: 6 * GiB}},
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, Notes: []string{"no model loaded: no KV-cache budget"}},
		},
		{
			// 8 GiB: margin 8 GiB/10 = 858993459; budget 6560941133 / 360448
			// = 18202 blocks, capped at 64 sequences × 128 blocks = 8192.
			name:  "plenty of memory: capped at 64 full-context sequences",
			r:     Report{CPU: cpu4(), Memory: Memory{TotalBytes: 16 * GiB, AvailableBytes: 8 * GiB}},
			model: tinyLlama,
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 360448,
				KVBlocks: 8192, KVCacheBytes: 8192 * 360448, MaxBatch: 64},
		},
		{
			// 2 GiB: margin 256 MiB (more than 2 GiB/10); budget
			// 2147483648 − 1170000000 − 268435456 = 709048192 → 1967 blocks,
			// 1967/128 = 15 sequences.
			name:  "raspberry pi sized",
			r:     Report{CPU: CPU{PhysicalCores: 4, LogicalThreads: 4, UsableThreads: 4}, Memory: Memory{TotalBytes: 4 * GiB, AvailableBytes: 2 * GiB}},
			model: tinyLlama,
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 360448,
				KVBlocks: 1967, KVCacheBytes: 1967 * 360448, MaxBatch: 15},
		},
		{
			// Available unknown: plan with total. 1.5 GiB: budget
			// 1610612736 − 1170000000 − 268435456 = 172177280 → 477 blocks.
			name:  "available unknown uses total",
			r:     Report{CPU: cpu4(), Memory: Memory{TotalBytes: 3 * GiB / 2}},
			model: tinyLlama,
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 360448,
				KVBlocks: 477, KVCacheBytes: 477 * 360448, MaxBatch: 3},
		},
		{
			// 1.3 GiB: budget 1395864371 − 1170000000 − 268435456 < 0.
			name:  "model does not fit",
			r:     Report{CPU: cpu4(), Memory: Memory{TotalBytes: 2 * GiB, AvailableBytes: 1395864371}},
			model: tinyLlama,
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 360448,
				Problems: []string{"model does not fit: 1.1 GiB of weights + 256.0 MiB margin + one KV block (352.0 KiB) > 1.3 GiB available"}},
		},
		{
			// 1440237796 − 1170000000 − 268435456 = 1802340 → 5 blocks of
			// 128 needed for one full context.
			name:  "less than one full context",
			r:     Report{CPU: cpu4(), Memory: Memory{AvailableBytes: 1440237796, TotalBytes: 2 * GiB}},
			model: tinyLlama,
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 360448,
				KVBlocks: 5, KVCacheBytes: 5 * 360448, MaxBatch: 1,
				Notes: []string{"KV cache holds 80 tokens, less than one full context of 2048"}},
		},
		{
			// f32 cache, 1-token context (one block per sequence).
			// Block = 2·1·1·8·16·4 = 1024 bytes; 1 GiB: margin 256 MiB;
			// budget 1073741824 − 1000 − 268435456 = 805305368 → 786430
			// blocks, capped at 64.
			name:  "f32 elements, tiny context",
			r:     Report{CPU: cpu4(), Memory: Memory{AvailableBytes: GiB, TotalBytes: GiB}},
			model: ModelShape{WeightBytes: 1000, Layers: 1, KVHeads: 1, HeadDim: 8, ContextLength: 1, KVBytesPerElement: 4},
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 1024,
				KVBlocks: 64, KVCacheBytes: 64 * 1024, MaxBatch: 64},
		},
		{
			name:  "incomplete shape",
			r:     Report{CPU: cpu4(), Memory: Memory{AvailableBytes: 8 * GiB}},
			model: ModelShape{WeightBytes: 1 << 20, Layers: 22},
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16,
				Problems: []string{"model shape incomplete (layers 22, kv heads 0, head dim 0, context 0, kv bytes 0): no KV-cache budget"}},
		},
		{
			name:  "overflowing shape",
			r:     Report{CPU: cpu4(), Memory: Memory{AvailableBytes: 8 * GiB}},
			model: ModelShape{Layers: 1 << 30, KVHeads: 1 << 30, HeadDim: 1 << 30, ContextLength: 1},
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16,
				Problems: []string{"model shape too large: KV block size overflows"}},
		},
		{
			name:  "memory unknown",
			r:     Report{CPU: cpu4()},
			model: tinyLlama,
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, KVBytesPerBlock: 360448,
				Problems: []string{"memory unknown: no KV-cache budget"}},
		},
		{
			name: "threads capped by GOMAXPROCS",
			r:    Report{CPU: CPU{PhysicalCores: 16, LogicalThreads: 32, UsableThreads: 2}},
			want: Plan{Backend: "cpu", Threads: 2, BlockTokens: 16, Notes: []string{
				"threads limited to 2 usable of 16 cores (CPU affinity or cgroup limit)",
				"no model loaded: no KV-cache budget"}},
		},
		{
			name: "cores unknown: logical threads",
			r:    Report{CPU: CPU{LogicalThreads: 6}},
			want: Plan{Backend: "cpu", Threads: 6, BlockTokens: 16, Notes: []string{"no model loaded: no KV-cache budget"}},
		},
		{
			name: "nothing known: one thread",
			r:    Report{},
			want: Plan{Backend: "cpu", Threads: 1, BlockTokens: 16, Notes: []string{"no model loaded: no KV-cache budget"}},
		},
		{
			name: "NVIDIA GPU with NVML memory: still cpu, with a note",
			r: Report{CPU: cpu4(), GPU: GPUs{Devices: []GPU{
				{Vendor: "intel", Integrated: true},
				{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", MemoryTotalBytes: 80 * GiB},
			}}},
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, Notes: []string{
				"NVIDIA H100 80GB HBM3 with 80.0 GiB found; GPU runners are not built yet: using cpu (or serve the model on the GPU with llama.cpp, vLLM or Ollama and set inference_url)",
				"no model loaded: no KV-cache budget"}},
		},
		{
			name: "NVIDIA GPU without NVML",
			r:    Report{CPU: cpu4(), GPU: GPUs{Devices: []GPU{{Vendor: "nvidia", DeviceID: "0x2330"}}}},
			want: Plan{Backend: "cpu", Threads: 4, BlockTokens: 16, Notes: []string{
				"NVIDIA GPU 0x2330 found (memory unknown without NVML); GPU runners are not built yet: using cpu (or serve the model on the GPU with llama.cpp, vLLM or Ollama and set inference_url)",
				"no model loaded: no KV-cache budget"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PlanFor(c.r, c.model)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("PlanFor:\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestPlanForInvariants(t *testing.T) {
	// Across a sweep of memory sizes, the KV cache and the weights never
	// take more than the available memory less the margin, and MaxBatch is
	// within [1, 64] whenever there are blocks.
	for avail := uint64(0); avail <= 64<<30; avail += 97 << 20 {
		r := Report{CPU: cpu4(), Memory: Memory{AvailableBytes: avail, TotalBytes: avail}}
		p := PlanFor(r, tinyLlama)
		if p.KVBlocks == 0 {
			if p.MaxBatch != 0 || len(p.Problems) == 0 {
				t.Fatalf("avail %d: no blocks but %+v", avail, p)
			}
			continue
		}
		margin := max(uint64(MinSafetyMargin), avail/SafetyMarginDivisor)
		if p.KVCacheBytes+tinyLlama.WeightBytes+margin > avail {
			t.Fatalf("avail %d: plan over-commits: %+v", avail, p)
		}
		if p.MaxBatch < 1 || p.MaxBatch > MaxBatchCap {
			t.Fatalf("avail %d: MaxBatch %d", avail, p.MaxBatch)
		}
		if strings.Join(p.Problems, "") != "" {
			t.Fatalf("avail %d: problems with blocks: %q", avail, p.Problems)
		}
	}
}
