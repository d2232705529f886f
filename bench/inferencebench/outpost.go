package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/engine"
	"github.com/outpost-iot/outpost/accel/openai"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// prompt returns text of about n tokens, distinct per i.
func prompt(e *engine.Engine, i, n int) string {
	words := []string{"sensor", "gateway", "reading", "valve", "pump", "north", "level", "alarm", "cool", "heat", "door", "light"}
	text := fmt.Sprintf("%d", i)
	for k := 0; len(e.Tokenize(text)) < n; k++ {
		text += " " + words[(i*7+k*5)%len(words)]
	}
	return text
}

// result is what a client saw of one streamed request.
type result struct {
	start, first, last time.Time
	usage              openai.Usage
}

// stream posts a streamed completion and reads it to the end.
func stream(url, text string, maxTokens int, seed int64) (result, error) {
	body, _ := json.Marshal(map[string]any{
		"model": "bench", "prompt": text, "max_tokens": maxTokens, "stream": true,
		"stream_options": map[string]bool{"include_usage": true},
		"temperature":    0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": seed,
	})
	r := result{start: time.Now()}
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return r, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch openai.Chunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return r, err
		}
		if ch.Usage != nil {
			r.usage = *ch.Usage
		}
		if len(ch.Choices) > 0 {
			now := time.Now()
			if r.first.IsZero() {
				r.first = now
			}
			r.last = now
		}
	}
	if r.first.IsZero() || r.usage.CompletionTokens == 0 {
		return r, errors.New("no tokens streamed")
	}
	return r, sc.Err()
}

// row is one Outpost scenario's line in the table.
type row struct {
	name                     string
	requests, prompt, tokens int
	wall                     time.Duration
	ttft                     time.Duration
	tokPerSec                float64 // the scenario's headline rate
	decodePerSec             float64
	cpu                      time.Duration // this process, during the scenario
	cpuPerToken              time.Duration // cpu / completion tokens
	schedShare               float64
	stepTokens               float64
	decodeStep               time.Duration
	cached                   int64 // prompt tokens the prefix cache served
}

// httpShare is the HTTP cost of a decode step's tokens over the step time.
func (r row) httpShare(httpTok time.Duration) float64 {
	if r.decodeStep <= 0 {
		return 0
	}
	return r.stepTokens * float64(httpTok) / float64(r.decodeStep)
}

// scenario runs n concurrent requests and summarizes them. salt makes the
// prompts distinct from every other scenario's, so that the prefix cache
// serves none of them.
func scenario(e *engine.Engine, url, name string, salt, n, promptTokens, gen int) (row, error) {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = prompt(e, salt+i, promptTokens)
	}
	before, cpu0, t0 := e.Stats(), cpuTime(), time.Now()
	results := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = stream(url, texts[i], gen, int64(i+1))
		}()
	}
	wg.Wait()
	wall, cpu, after := time.Since(t0), cpuTime()-cpu0, e.Stats()
	if err := errors.Join(errs...); err != nil {
		return row{}, fmt.Errorf("%s: %w", name, err)
	}
	r := row{name: name, requests: n, wall: wall, cpu: cpu, cached: after.CachedTokens - before.CachedTokens}
	var ttfts []time.Duration
	for _, res := range results {
		r.prompt += res.usage.PromptTokens
		r.tokens += res.usage.CompletionTokens
		ttfts = append(ttfts, res.first.Sub(res.start))
	}
	slices.Sort(ttfts)
	r.ttft = ttfts[len(ttfts)/2]
	r.prompt /= n
	r.cpuPerToken = cpu / time.Duration(r.tokens)
	r.tokPerSec = float64(r.tokens) / wall.Seconds()
	step, fwd := after.StepTime-before.StepTime, after.ForwardTime-before.ForwardTime
	if step > 0 {
		r.schedShare = float64(step-fwd) / float64(step)
	}
	if ds := after.DecodeSteps - before.DecodeSteps; ds > 0 {
		dt := after.DecodeStepTime - before.DecodeStepTime
		dtok := after.DecodeStepTokens - before.DecodeStepTokens
		r.decodePerSec = float64(dtok) / dt.Seconds()
		r.stepTokens = float64(dtok) / float64(ds)
		r.decodeStep = dt / time.Duration(ds)
	}
	if n == 1 && results[0].usage.CompletionTokens > 1 {
		res := results[0]
		r.decodePerSec = float64(res.usage.CompletionTokens-1) / res.last.Sub(res.first).Seconds()
	}
	return r, nil
}

// instant is a backend that streams its tokens at once, to measure what
// the HTTP layer costs per token.
type instant struct{ tokens int }

func (b instant) Models(context.Context) ([]accel.ModelInfo, error) { return nil, nil }
func (b instant) Chat(ctx context.Context, r accel.ChatRequest) (*accel.Stream, error) {
	return b.Complete(ctx, accel.CompletionRequest{})
}
func (b instant) Complete(context.Context, accel.CompletionRequest) (*accel.Stream, error) {
	ch := make(chan accel.Event, b.tokens+1)
	for range b.tokens - 1 {
		ch <- accel.Event{Chunk: accel.Chunk{Text: " word"}}
	}
	ch <- accel.Event{Chunk: accel.Chunk{Text: " end", FinishReason: accel.FinishLength, Usage: &accel.Usage{PromptTokens: 1, CompletionTokens: b.tokens, TotalTokens: b.tokens + 1}}}
	close(ch)
	return accel.NewStream(ch, func() {}), nil
}

// httpCostPerToken is the CPU time of streaming one token over HTTP
// (handler, JSON, SSE, loopback TCP and the client's parsing).
func httpCostPerToken() (time.Duration, error) {
	const reqs, toks = 50, 200
	srv := httptest.NewServer(openai.NewHandler(instant{toks}, nil))
	defer srv.Close()
	if _, err := stream(srv.URL, "x", toks, 1); err != nil { // warm up
		return 0, err
	}
	cpu0 := cpuTime()
	for i := range reqs {
		if _, err := stream(srv.URL, "x", toks, int64(i)); err != nil {
			return 0, err
		}
	}
	return (cpuTime() - cpu0) / (reqs * toks), nil
}

// outpost is the engine under test, serving its API on a loopback port.
type outpost struct {
	path string
	m    *engine.Model
	e    *engine.Engine
	srv  *httptest.Server
	load time.Duration
}

// startOutpost loads path and serves it; Close undoes it.
func startOutpost(path string, threads, maxSeqs int) (*outpost, error) {
	t0 := time.Now()
	m, err := engine.Load(context.Background(), path, nil)
	if err != nil {
		return nil, err
	}
	o := &outpost{path: path, m: m, load: time.Since(t0)}
	m.ID = "bench"
	o.e, err = engine.New(m, engine.Config{MaxSeqs: max(32, maxSeqs), Threads: threads})
	if err == nil {
		err = o.e.Start(context.Background())
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	o.srv = httptest.NewServer(openai.NewHandler(o.e, nil))
	return o, nil
}

func (o *outpost) Close() {
	o.srv.Close()
	o.e.Close(context.Background())
	o.m.Close()
}
