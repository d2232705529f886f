package sample

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func mustNew(t testing.TB, p Params, n int) *Sampler {
	t.Helper()
	s, err := New(p, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plain returns params with every truncation sampler off.
func plain(temp float32) Params {
	return Params{Temperature: temp, TopP: 1, RepeatPenalty: 1, RepeatLastN: 64}
}

func TestValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := GreedyParams().Validate(); err != nil {
		t.Fatalf("greedy: %v", err)
	}
	nan := float32(math.NaN())
	cases := []struct {
		name  string
		mod   func(*Params)
		field string
	}{
		{"neg temp", func(p *Params) { p.Temperature = -0.1 }, "temperature"},
		{"nan temp", func(p *Params) { p.Temperature = nan }, "temperature"},
		{"top_p 0", func(p *Params) { p.TopP = 0 }, "top_p"},
		{"top_p >1", func(p *Params) { p.TopP = 1.01 }, "top_p"},
		{"min_p 1", func(p *Params) { p.MinP = 1 }, "min_p"},
		{"min_p neg", func(p *Params) { p.MinP = -0.1 }, "min_p"},
		{"top_k neg", func(p *Params) { p.TopK = -1 }, "top_k"},
		{"penalty 0", func(p *Params) { p.RepeatPenalty = 0 }, "repeat_penalty"},
		{"last_n", func(p *Params) { p.RepeatLastN = -2 }, "repeat_last_n"},
		{"max_tokens", func(p *Params) { p.MaxTokens = -1 }, "max_tokens"},
		{"empty stop", func(p *Params) { p.Stop = []string{"x", ""} }, "stop[1]"},
	}
	for _, c := range cases {
		p := DefaultParams()
		c.mod(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: got %v, want error naming %q", c.name, err, c.field)
		}
		if _, err := New(p, 10); err == nil {
			t.Errorf("%s: New accepted invalid params", c.name)
		}
	}
	// Boundary values that are valid.
	p := DefaultParams()
	p.Temperature, p.TopP, p.MinP, p.TopK = 0, 1, 0, 0
	if err := p.Validate(); err != nil {
		t.Errorf("boundaries: %v", err)
	}
	if (Params{MaxTokens: 3}).Exhausted(2) || !(Params{MaxTokens: 3}).Exhausted(3) || (Params{}).Exhausted(1e9) {
		t.Error("Exhausted")
	}
}

func TestGreedy(t *testing.T) {
	s := mustNew(t, GreedyParams(), 6)
	cases := []struct {
		logits []float32
		want   int32
	}{
		{[]float32{0, 1, 5, 2, 5, -1}, 2}, // tie -> lowest id
		{[]float32{-3, -2, -1, -7, -1, -9}, 2},
		{[]float32{1, 1, 1, 1, 1, 1}, 0},
		{[]float32{float32(math.NaN()), 0, -1, 0, 0, 0}, 1},                    // NaN is -Inf
		{[]float32{0, float32(math.Inf(1)), 3, float32(math.Inf(1)), 0, 0}, 1}, // +Inf wins, lowest id
	}
	for i, c := range cases {
		if got := s.Sample(c.logits, nil); got != c.want {
			t.Errorf("case %d: got %d want %d", i, got, c.want)
		}
	}
}

func TestAllNegInf(t *testing.T) {
	ninf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	logits := []float32{ninf, nan, ninf}
	for _, p := range []Params{GreedyParams(), DefaultParams(), plain(1)} {
		s := mustNew(t, p, 3)
		if got := s.Sample(logits, nil); got != 0 {
			t.Errorf("%+v: got %d want 0", p, got)
		}
		if got := s.Sample(nil, nil); got != 0 {
			t.Errorf("empty logits: got %d", got)
		}
	}
}

func TestTopK1EqualsGreedy(t *testing.T) {
	p := plain(1.5)
	p.TopK = 1
	s := mustNew(t, p, 1000)
	g := mustNew(t, GreedyParams(), 1000)
	logits := make([]float32, 1000)
	var x uint32 = 12345
	for trial := 0; trial < 50; trial++ {
		for i := range logits {
			x = x*1664525 + 1013904223
			logits[i] = float32(x>>20) / 256 // many ties
		}
		if a, b := s.Sample(logits, nil), g.Sample(logits, nil); a != b {
			t.Fatalf("trial %d: top-k 1 gave %d, greedy %d", trial, a, b)
		}
	}
}

func TestTopKSet(t *testing.T) {
	p := plain(1)
	p.TopK = 3
	s := mustNew(t, p, 8)
	w := []float32{0.5, 3, -1, 3, 2, float32(math.Inf(-1)), 2, 1}
	got := s.truncate(s.prepare(w, nil))
	want := []int32{1, 3, 4} // ties broken toward lower id
	if !slices.Equal(got, want) {
		t.Fatalf("top-k set %v want %v", got, want)
	}
	// k larger than the finite candidates.
	p.TopK = 7
	s = mustNew(t, p, 8)
	got = s.truncate(s.prepare([]float32{float32(math.Inf(-1)), 1, float32(math.NaN()), 2, float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))}, nil))
	if !slices.Equal(got, []int32{3, 1}) {
		t.Fatalf("sparse top-k %v", got)
	}
}

func logs(ps ...float64) []float32 {
	out := make([]float32, len(ps))
	for i, p := range ps {
		out[i] = float32(math.Log(p))
	}
	return out
}

func sortedSet(c []int32) []int32 {
	c = slices.Clone(c)
	slices.Sort(c)
	return c
}

func TestTopP(t *testing.T) {
	// probs 0.05, 0.5, 0.15, 0.3 at ids 0..3.
	w := logs(0.05, 0.5, 0.15, 0.3)
	cases := []struct {
		p    float32
		want []int32
	}{
		{0.3, []int32{1}},
		{0.45, []int32{1}},
		{0.6, []int32{1, 3}},
		{0.75, []int32{1, 3}},
		{0.9, []int32{1, 2, 3}},
		{0.97, []int32{0, 1, 2, 3}},
		{1, []int32{0, 1, 2, 3}},
	}
	for _, c := range cases {
		p := plain(1)
		p.TopP = c.p
		s := mustNew(t, p, 4)
		got := sortedSet(s.truncate(s.prepare(w, nil)))
		if !slices.Equal(got, c.want) {
			t.Errorf("top_p %v: kept %v want %v", c.p, got, c.want)
		}
	}
}

func TestMinP(t *testing.T) {
	// probs relative to max 0.5: 0.1, 1, 0.3, 0.6.
	w := logs(0.05, 0.5, 0.15, 0.3)
	cases := []struct {
		p    float32
		want []int32
	}{
		{0.05, []int32{0, 1, 2, 3}},
		{0.2, []int32{1, 2, 3}},
		{0.5, []int32{1, 3}},
		{0.7, []int32{1}},
		{0.99, []int32{1}},
	}
	for _, c := range cases {
		p := plain(1)
		p.MinP = c.p
		s := mustNew(t, p, 4)
		got := sortedSet(s.truncate(s.prepare(w, nil)))
		if !slices.Equal(got, c.want) {
			t.Errorf("min_p %v: kept %v want %v", c.p, got, c.want)
		}
	}
	// Chain: top-k 3 -> top-p 0.9 -> min-p 0.4 on probs renormalised.
	p := plain(1)
	p.TopK, p.TopP, p.MinP = 3, 0.99, 0.4
	s := mustNew(t, p, 4)
	got := sortedSet(s.truncate(s.prepare(w, nil)))
	if !slices.Equal(got, []int32{1, 3}) {
		t.Errorf("chain kept %v", got)
	}
}

func TestRepetitionPenalty(t *testing.T) {
	p := GreedyParams()
	p.RepeatPenalty = 2
	p.RepeatLastN = 3
	s := mustNew(t, p, 5)
	logits := []float32{4, -1, 3, 2, 0.5}
	// History: token 0 is outside the last 3; 1 and 2 (twice) penalised once.
	w := s.prepare(logits, []int32{0, 2, 1, 2, 99, -4})
	// last 3 = {2, 99, -4}: only token 2 counts.
	want := []float32{4, -1, 1.5, 2, 0.5}
	if !slices.Equal(w, want) {
		t.Fatalf("last3 got %v want %v", w, want)
	}
	p.RepeatLastN = -1
	s = mustNew(t, p, 5)
	w = s.prepare(logits, []int32{0, 2, 1, 2})
	want = []float32{2, -2, 1.5, 2, 0.5}
	if !slices.Equal(w, want) {
		t.Fatalf("all got %v want %v", w, want)
	}
	if got := s.Sample(logits, []int32{0, 2, 1, 2}); got != 0 {
		t.Fatalf("greedy after penalty: %d", got) // 2 vs 2 tie -> id 0
	}
	if got := s.Sample(logits, []int32{0, 0, 0}); got != 2 {
		t.Fatalf("greedy after penalising 0: %d", got)
	}
	if !slices.Equal(logits, []float32{4, -1, 3, 2, 0.5}) {
		t.Fatal("Sample modified its input")
	}
	// RepeatLastN 0 disables.
	p.RepeatLastN = 0
	s = mustNew(t, p, 5)
	if w = s.prepare(logits, []int32{0, 1}); !slices.Equal(w, logits) {
		t.Fatalf("disabled penalty changed logits: %v", w)
	}
}

func TestTemperatureDistribution(t *testing.T) {
	logits := []float32{1, 2, 3, 0.5, -1, 2.5}
	for _, temp := range []float32{0.7, 1, 2} {
		s := mustNew(t, plain(temp), len(logits))
		s.Reseed(42)
		// Expected softmax(logits / temp).
		exp := make([]float64, len(logits))
		var sum float64
		for i, l := range logits {
			exp[i] = math.Exp(float64(l) / float64(temp))
			sum += exp[i]
		}
		const n = 60000
		counts := make([]int, len(logits))
		for range n {
			counts[s.Sample(logits, nil)]++
		}
		var chi2 float64
		for i := range exp {
			e := exp[i] / sum * n
			d := float64(counts[i]) - e
			chi2 += d * d / e
		}
		// df = 5; the 99.9999% quantile is about 35. Deterministic by seed.
		if chi2 > 40 {
			t.Errorf("temp %v: chi2 %.1f counts %v", temp, chi2, counts)
		}
	}
}

func TestDeterminism(t *testing.T) {
	logits := make([]float32, 500)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)*0.37)) * 4
	}
	seq := func(seed uint64) []int32 {
		p := DefaultParams()
		p.Seed = seed
		p.Temperature = 1.5
		p.RepeatPenalty = 1.1
		s := mustNew(t, p, len(logits))
		var hist []int32
		for range 64 {
			hist = append(hist, s.Sample(logits, hist))
		}
		return hist
	}
	a, b, c := seq(7), seq(7), seq(8)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different sequences")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same sequence")
	}
	// Reseed restarts the stream.
	p := DefaultParams()
	p.Seed = 7
	p.Temperature = 1.5
	p.RepeatPenalty = 1.1
	s := mustNew(t, p, len(logits))
	s.Sample(logits, nil)
	s.Reseed(7)
	var hist []int32
	for range 64 {
		hist = append(hist, s.Sample(logits, hist))
	}
	if !slices.Equal(a, hist) {
		t.Fatal("Reseed did not restart the stream")
	}
}

func TestZeroAllocs(t *testing.T) {
	const n = 32000
	logits := make([]float32, n)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)*0.013)) * 8
	}
	hist := []int32{1, 5, 9, 200, 31999, 5}
	configs := map[string]Params{"greedy": GreedyParams(), "default": DefaultParams(), "topp-only": plain(1), "plain": plain(0.9)}
	tp := plain(1)
	tp.TopP = 0.9
	tp.RepeatPenalty = 1.2
	configs["topp-only"] = tp
	for name, p := range configs {
		s := mustNew(t, p, n)
		s.Sample(logits, hist)
		if a := testing.AllocsPerRun(20, func() { s.Sample(logits, hist) }); a != 0 {
			t.Errorf("%s: %v allocs per Sample", name, a)
		}
	}
}

func benchSample(b *testing.B, n int) {
	logits := make([]float32, n)
	var x uint64 = 1
	for i := range logits {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		logits[i] = float32(x>>40)/float32(1<<24)*20 - 10
	}
	p := DefaultParams()
	p.TopK, p.TopP, p.MinP = 40, 0.95, 0
	s, err := New(p, n)
	if err != nil {
		b.Fatal(err)
	}
	hist := make([]int32, 64)
	for i := range hist {
		hist[i] = int32(i * 97 % n)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Sample(logits, hist)
	}
}

func BenchmarkSample32k(b *testing.B)  { benchSample(b, 32000) }
func BenchmarkSample152k(b *testing.B) { benchSample(b, 152000) }

func TestTopKMatchesSort(t *testing.T) {
	const n = 3000
	w := make([]float32, n)
	var x uint32 = 99
	for i := range w {
		x = x*1664525 + 1013904223
		w[i] = float32(x>>24) / 16 // 256 distinct values: many ties
		if i%97 == 0 {
			w[i] = float32(math.NaN())
		}
	}
	ref := make([]int32, 0, n)
	for i, v := range w {
		if v == v {
			ref = append(ref, int32(i))
		}
	}
	slices.SortFunc(ref, func(a, b int32) int {
		if w[a] != w[b] {
			if w[a] > w[b] {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	for _, k := range []int{1, 2, 5, 40, 1000, len(ref), n - 1} {
		p := plain(1)
		p.TopK = k
		s := mustNew(t, p, 10) // smaller than n: Sample must grow buffers
		got := s.truncate(s.prepare(w, nil))
		if !slices.Equal(got, ref[:min(k, len(ref))]) {
			t.Fatalf("k=%d: heap selection differs from sort", k)
		}
		if tok := s.Sample(w, nil); tok != ref[0] && k == 1 {
			t.Fatalf("k=1 sample %d want %d", tok, ref[0])
		}
	}
}
