package detect

import (
	"fmt"
	"math"
	"math/bits"
)

// ModelShape holds the numbers of a model that the plan needs, as read from
// its GGUF metadata. The zero value means no model is loaded.
type ModelShape struct {
	// WeightBytes is the memory the weights take once loaded, in bytes
	// (the GGUF tensor data size).
	WeightBytes uint64 `json:"weight_bytes"`
	// Layers is the number of transformer blocks.
	Layers int `json:"layers"`
	// KVHeads is the number of key/value heads (fewer than the query
	// heads under grouped-query attention).
	KVHeads int `json:"kv_heads"`
	// HeadDim is the size of one attention head.
	HeadDim int `json:"head_dim"`
	// ContextLength is the longest sequence served, in tokens.
	ContextLength int `json:"context_length"`
	// KVBytesPerElement is the size of one cached key or value element:
	// 2 for f16 or bf16 (the default when 0), 4 for f32, 1 for 8-bit.
	KVBytesPerElement int `json:"kv_bytes_per_element,omitempty"`
}

// Plan is how the engine will use the hardware.
type Plan struct {
	// Backend is the runner the engine uses: "cpu" for now.
	Backend string `json:"backend"`
	// Threads is the number of worker threads for the CPU kernels.
	Threads int `json:"threads"`
	// BlockTokens is the number of tokens in one KV-cache block (16).
	BlockTokens int `json:"block_tokens"`
	// KVBytesPerBlock is the memory one block takes across all layers.
	KVBytesPerBlock uint64 `json:"kv_bytes_per_block,omitempty"`
	// KVBlocks is the KV-cache block budget; 0 without a model or when the
	// model does not fit.
	KVBlocks int `json:"kv_blocks"`
	// KVCacheBytes is KVBlocks × KVBytesPerBlock.
	KVCacheBytes uint64 `json:"kv_cache_bytes,omitempty"`
	// MaxBatch is the most sequences decoded together; 0 without a model
	// or when the model does not fit, else at least 1.
	MaxBatch int `json:"max_batch"`
	// Notes explain choices that are not obvious from the numbers.
	Notes []string `json:"notes,omitempty"`
	// Problems say why part of the plan could not be made.
	Problems []string `json:"problems,omitempty"`
}

// Planning constants.
const (
	// BlockTokens is the number of tokens in one KV-cache block.
	BlockTokens = 16
	// MaxBatchCap is the largest batch the plan allows.
	MaxBatchCap = 64
	// MinSafetyMargin is the least memory left free for the gateway, the
	// broker, the agents and the OS: 256 MiB.
	MinSafetyMargin = 256 << 20
	// SafetyMarginDivisor: the margin is at least a tenth of the memory.
	SafetyMarginDivisor = 10
)

// PlanFor computes the engine's plan from a report and a model's shape. It
// is a pure function of its arguments.
//
// Backend is "cpu": the engine has only a CPU runner. An NVIDIA GPU that
// NVML describes is named in a note, for when GPU runners are built.
//
// Threads is the number of physical cores (logical threads if cores are
// unknown), no more than the usable threads (GOMAXPROCS), at least 1.
//
// KV-cache blocks hold BlockTokens (16) tokens each:
//
//	memory      = available memory (total if available is unknown)
//	margin      = max(MinSafetyMargin, memory / SafetyMarginDivisor)
//	budget      = memory − WeightBytes − margin   (0 if negative)
//	blockBytes  = 2 (K and V) × Layers × KVHeads × HeadDim × 16 × KVBytesPerElement
//	perSequence = ⌈ContextLength / 16⌉ blocks for one full-context sequence
//	KVBlocks    = min(budget / blockBytes, MaxBatchCap × perSequence, 2³¹−1)
//	MaxBatch    = min(MaxBatchCap, KVBlocks / perSequence), at least 1 if KVBlocks > 0
//
// The cap on KVBlocks keeps memory that no batch could use. With a zero
// ModelShape (no model) KVBlocks and MaxBatch are 0; with an incomplete one,
// or a model that does not fit, they are 0 too and Problems says why.
func PlanFor(r Report, m ModelShape) Plan {
	p := Plan{Backend: "cpu", BlockTokens: BlockTokens, Threads: planThreads(r.CPU)}
	if p.Threads < r.CPU.PhysicalCores {
		p.Notes = append(p.Notes, fmt.Sprintf("threads limited to %d usable of %d cores (CPU affinity or cgroup limit)", p.Threads, r.CPU.PhysicalCores))
	}
	if note := gpuNote(r.GPU.Devices); note != "" {
		p.Notes = append(p.Notes, note)
	}

	if m == (ModelShape{}) {
		p.Notes = append(p.Notes, "no model loaded: no KV-cache budget")
		return p
	}
	if m.Layers <= 0 || m.KVHeads <= 0 || m.HeadDim <= 0 || m.ContextLength <= 0 || m.KVBytesPerElement < 0 {
		p.Problems = append(p.Problems, fmt.Sprintf("model shape incomplete (layers %d, kv heads %d, head dim %d, context %d, kv bytes %d): no KV-cache budget",
			m.Layers, m.KVHeads, m.HeadDim, m.ContextLength, m.KVBytesPerElement))
		return p
	}
	elem := uint64(m.KVBytesPerElement)
	if elem == 0 {
		elem = 2
	}
	blockBytes, ok := mulAll(2, uint64(m.Layers), uint64(m.KVHeads), uint64(m.HeadDim), BlockTokens, elem)
	if !ok {
		p.Problems = append(p.Problems, "model shape too large: KV block size overflows")
		return p
	}
	p.KVBytesPerBlock = blockBytes

	memory := r.Memory.AvailableBytes
	if memory == 0 {
		memory = r.Memory.TotalBytes
	}
	if memory == 0 {
		p.Problems = append(p.Problems, "memory unknown: no KV-cache budget")
		return p
	}
	margin := max(uint64(MinSafetyMargin), memory/SafetyMarginDivisor)
	need := satAdd(m.WeightBytes, margin)
	if memory <= need || (memory-need)/blockBytes == 0 {
		p.Problems = append(p.Problems, fmt.Sprintf("model does not fit: %s of weights + %s margin + one KV block (%s) > %s available",
			humanBytes(m.WeightBytes), humanBytes(margin), humanBytes(blockBytes), humanBytes(memory)))
		return p
	}
	perSeq := (uint64(m.ContextLength) + BlockTokens - 1) / BlockTokens
	blocks := min((memory-need)/blockBytes, MaxBatchCap*perSeq, math.MaxInt32)
	p.KVBlocks = int(blocks)
	p.KVCacheBytes = blocks * blockBytes
	p.MaxBatch = max(1, int(min(MaxBatchCap, blocks/perSeq)))
	if blocks < perSeq {
		p.Notes = append(p.Notes, fmt.Sprintf("KV cache holds %d tokens, less than one full context of %d", blocks*BlockTokens, m.ContextLength))
	}
	return p
}

// planThreads is physical cores (else logical threads), capped at the
// usable threads, at least 1.
func planThreads(c CPU) int {
	n := c.PhysicalCores
	if n <= 0 {
		n = c.LogicalThreads
	}
	if c.UsableThreads > 0 && (n <= 0 || n > c.UsableThreads) {
		n = c.UsableThreads
	}
	return max(1, n)
}

// gpuNote names the first NVIDIA GPU, which the engine cannot use yet,
// and recommends the remote backend for it.
func gpuNote(gpus []GPU) string {
	for _, g := range gpus {
		if g.Vendor != "nvidia" {
			continue
		}
		name := g.Model
		if name == "" {
			name = "NVIDIA GPU " + g.DeviceID
		}
		if g.MemoryTotalBytes > 0 {
			return fmt.Sprintf("%s with %s found; GPU runners are not built yet: using cpu (or serve the model on the GPU with llama.cpp, vLLM or Ollama and set inference_url)", name, humanBytes(g.MemoryTotalBytes))
		}
		return fmt.Sprintf("%s found (memory unknown without NVML); GPU runners are not built yet: using cpu (or serve the model on the GPU with llama.cpp, vLLM or Ollama and set inference_url)", name)
	}
	return ""
}

// mulAll multiplies its arguments, reporting false on overflow.
func mulAll(xs ...uint64) (uint64, bool) {
	p := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(p, x)
		if hi != 0 {
			return 0, false
		}
		p = lo
	}
	return p, true
}
