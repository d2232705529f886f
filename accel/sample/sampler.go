package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// pcgStream is the fixed second PCG word; only Params.Seed varies.
const pcgStream = 0x9e3779b97f4a7c15

// Sampler picks the next token from a logits vector. It owns reusable
// buffers and a PCG generator, so it is not safe for concurrent use; use one
// Sampler per generation stream.
type Sampler struct {
	p     Params
	pcg   *rand.PCG
	rng   *rand.Rand
	work  []float32 // sanitised, penalised logits
	cand  []int32   // candidate token ids
	probs []float64 // candidate probabilities / weights
	stamp []uint32  // per-token marker for de-duplicating history
	gen   uint32
	srt   candSorter
}

// New validates p and returns a Sampler sized for vocabSize logits.
// Sample also accepts other logits lengths, growing its buffers once.
func New(p Params, vocabSize int) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if vocabSize < 0 {
		return nil, fmt.Errorf("sample: vocabSize must be >= 0, got %d", vocabSize)
	}
	pcg := rand.NewPCG(p.Seed, pcgStream)
	s := &Sampler{p: p, pcg: pcg, rng: rand.New(pcg)}
	s.grow(vocabSize)
	return s, nil
}

// Params returns the sampler's parameters.
func (s *Sampler) Params() Params { return s.p }

// Reseed restarts the random stream as if the Sampler had been created with
// the given seed.
func (s *Sampler) Reseed(seed uint64) {
	s.p.Seed = seed
	s.pcg.Seed(seed, pcgStream)
}

func (s *Sampler) grow(n int) {
	if cap(s.work) >= n {
		return
	}
	s.work = make([]float32, n)
	s.cand = make([]int32, n)
	s.probs = make([]float64, n)
	s.stamp = make([]uint32, n)
	s.gen = 0
}

// Sample returns the next token for logits, given the tokens generated (or
// consumed) so far in history; neither slice is modified.
//
// NaN logits are treated as -Inf and +Inf logits as the largest finite
// float32, so the result is always deterministic. If every logit is -Inf (or
// NaN, or logits is empty) there is no candidate and Sample returns token 0.
// History tokens outside [0, len(logits)) are ignored.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	if len(logits) == 0 {
		return 0
	}
	w := s.prepare(logits, history)
	if s.p.Temperature == 0 {
		return argmax(w)
	}
	cand := s.truncate(w)
	if len(cand) == 0 {
		return 0
	}
	return s.draw(w, cand)
}

// prepare copies logits into the work buffer, sanitising NaN/+Inf, and
// applies the repetition penalty.
func (s *Sampler) prepare(logits []float32, history []int32) []float32 {
	n := len(logits)
	s.grow(n)
	w := s.work[:n]
	for i, v := range logits {
		switch {
		case v != v:
			v = float32(math.Inf(-1))
		case v > math.MaxFloat32:
			v = math.MaxFloat32
		}
		w[i] = v
	}
	s.penalize(w, history)
	return w
}

// truncate applies top-k, top-p and min-p to w and returns the surviving
// candidate ids (best-first whenever top-k or top-p is active). It returns
// an empty slice when every logit is -Inf.
func (s *Sampler) truncate(w []float32) []int32 {
	n := len(w)
	var cand []int32
	if k := s.p.TopK; k > 0 && k < n {
		cand = s.topK(w, k)
	} else {
		cand = s.cand[:0]
		for i, v := range w {
			if !math.IsInf(float64(v), -1) {
				cand = append(cand, int32(i))
			}
		}
		if s.p.TopP < 1 {
			s.sortDesc(w, cand)
		}
	}
	if len(cand) == 0 {
		return cand
	}
	maxL := maxLogit(w, cand)

	if s.p.TopP < 1 {
		// cand is sorted best-first here; weights are temperature-1
		// softmax numerators relative to the best logit.
		pr := s.probs[:len(cand)]
		var sum float64
		for i, id := range cand {
			pr[i] = math.Exp(float64(w[id]) - maxL)
			sum += pr[i]
		}
		target := float64(s.p.TopP) * sum
		var cum float64
		keep := len(cand)
		for i := range cand {
			cum += pr[i]
			if cum >= target {
				keep = i + 1
				break
			}
		}
		cand = cand[:keep]
	}

	if s.p.MinP > 0 {
		// p_i >= min_p * p_max  <=>  l_i >= l_max + ln(min_p).
		thr := maxL + math.Log(float64(s.p.MinP))
		kept := cand[:0]
		for _, id := range cand {
			if float64(w[id]) >= thr {
				kept = append(kept, id)
			}
		}
		cand = kept // never empty: the best token itself passes
	}
	return cand
}

func maxLogit(w []float32, cand []int32) float64 {
	m := float64(w[cand[0]])
	for _, id := range cand[1:] {
		m = math.Max(m, float64(w[id]))
	}
	return m
}

// draw applies the temperature, takes the softmax over cand and draws one
// token from it with the sampler's generator. cand must be non-empty.
func (s *Sampler) draw(w []float32, cand []int32) int32 {
	maxL := maxLogit(w, cand)
	invT := 1 / float64(s.p.Temperature)
	pr := s.probs[:len(cand)]
	var sum float64
	for i, id := range cand {
		pr[i] = math.Exp((float64(w[id]) - maxL) * invT)
		sum += pr[i]
	}
	r := s.rng.Float64() * sum
	for i, id := range cand {
		r -= pr[i]
		if r < 0 {
			return id
		}
	}
	// Rounding left r >= 0: take the last candidate with non-zero weight.
	for i := len(cand) - 1; i >= 0; i-- {
		if pr[i] > 0 {
			return cand[i]
		}
	}
	return cand[0]
}

// penalize applies the repetition penalty in place, once per distinct token
// among the last RepeatLastN history tokens.
func (s *Sampler) penalize(w []float32, history []int32) {
	pen := s.p.RepeatPenalty
	if pen == 1 || s.p.RepeatLastN == 0 || len(history) == 0 {
		return
	}
	if s.p.RepeatLastN > 0 && len(history) > s.p.RepeatLastN {
		history = history[len(history)-s.p.RepeatLastN:]
	}
	s.gen++
	if s.gen == 0 { // wrapped: clear stale marks
		clear(s.stamp)
		s.gen = 1
	}
	st := s.stamp[:len(w)]
	for _, t := range history {
		if t < 0 || int(t) >= len(w) || st[t] == s.gen {
			continue
		}
		st[t] = s.gen
		if w[t] > 0 {
			w[t] /= pen
		} else {
			w[t] *= pen
		}
	}
}

// argmax returns the index of the largest value, lowest index on ties, or 0
// when every value is -Inf.
func argmax(w []float32) int32 {
	best := 0
	for i, v := range w {
		if v > w[best] {
			best = i
		}
	}
	return int32(best)
}

// better reports whether token a ranks before token b: higher logit, then
// lower id.
func better(w []float32, a, b int32) bool {
	if w[a] != w[b] {
		return w[a] > w[b]
	}
	return a < b
}

// topK selects the k best finite candidates with a size-k min-heap (the root
// is the worst kept candidate), O(n log k), and returns them best-first.
func (s *Sampler) topK(w []float32, k int) []int32 {
	h := s.cand[:0]
	for i, v := range w {
		if math.IsInf(float64(v), -1) {
			continue
		}
		id := int32(i)
		if len(h) < k {
			h = append(h, id)
			siftUp(w, h, len(h)-1)
			continue
		}
		if better(w, id, h[0]) {
			h[0] = id
			siftDown(w, h, 0)
		}
	}
	// Heap-sort in place: repeatedly move the worst to the end.
	for end := len(h) - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0]
		siftDown(w, h[:end], 0)
	}
	return h
}

func siftUp(w []float32, h []int32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(w, h[p], h[i]) { // parent must be worse than child
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(w []float32, h []int32, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l // the worse child
		if r := l + 1; r < n && better(w, h[l], h[r]) {
			m = r
		}
		if !better(w, h[i], h[m]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// candSorter sorts candidate ids best-first without allocating.
type candSorter struct {
	w    []float32
	cand []int32
}

func (c *candSorter) Len() int           { return len(c.cand) }
func (c *candSorter) Less(i, j int) bool { return better(c.w, c.cand[i], c.cand[j]) }
func (c *candSorter) Swap(i, j int)      { c.cand[i], c.cand[j] = c.cand[j], c.cand[i] }

func (s *Sampler) sortDesc(w []float32, cand []int32) {
	s.srt.w, s.srt.cand = w, cand
	sort.Sort(&s.srt)
	s.srt.w, s.srt.cand = nil, nil
}
