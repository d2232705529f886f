package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle worker keeps polling for the next job
// (yielding its thread) before it parks: longer than the gaps between the
// jobs of one forward pass (a norm, RoPE, a residual add: microseconds),
// so a step's ~150 jobs cost no channel operation, and short enough that
// an idle engine gives the cores back.
const spinFor = 50 * time.Microsecond

// pool runs jobs on Threads goroutines: the caller is worker 0 and
// Threads−1 workers, started on the first job, live until close. A job is
// a range [0, n) cut into chunks of a multiple of grain items (about eight
// per worker); each worker claims the next chunk from an atomic counter
// until none is left, so a worker that is slower (its core shared with
// other work, or its chunks costlier) takes fewer chunks instead of
// holding up the step. fn is called with each chunk. The caller waits for
// all of them.
// Jobs are published with an atomic generation counter; a worker that
// finds no job for spinFor parks on its wake channel, which the next job
// signals.
type pool struct {
	threads int
	started bool
	wg      sync.WaitGroup

	// the current job, written by the caller before gen moves
	n, grain, chunk int
	fn              func(worker, lo, hi int)
	next            atomic.Int64 // the start of the next chunk to claim

	gen     atomic.Uint64
	pending atomic.Int32
	// waiting says the caller sleeps on done for the last part
	waiting  atomic.Bool
	done     chan struct{}
	quit     atomic.Bool
	sleeping []atomic.Bool
	wake     []chan struct{}
}

// parts is how many workers a job of n items with grain uses.
func (p *pool) parts(n, grain int) int {
	return min(p.threads, max(1, n/max(1, grain)))
}

func (p *pool) start() {
	p.started = true
	p.quit.Store(false)
	k := p.threads - 1
	p.sleeping = make([]atomic.Bool, k)
	p.done = make(chan struct{}, 1)
	p.wake = make([]chan struct{}, k)
	seen := p.gen.Load()
	for i := range k {
		p.wake[i] = make(chan struct{}, 1)
		p.wg.Add(1)
		go p.worker(i, seen)
	}
}

// run runs fn over [0, n) and returns when every part is done.
func (p *pool) run(n, grain int, fn func(worker, lo, hi int)) {
	w := p.parts(n, grain)
	if w <= 1 {
		fn(0, 0, n)
		return
	}
	if !p.started {
		p.start()
	}
	p.n, p.grain, p.fn = n, grain, fn
	// about eight chunks per worker, a multiple of grain
	g := max(1, grain)
	p.chunk = (n + 8*w*g - 1) / (8 * w * g) * g
	p.next.Store(0)
	p.pending.Store(int32(p.threads - 1))
	p.gen.Add(1)
	for i := range p.wake {
		if p.sleeping[i].Load() {
			select {
			case p.wake[i] <- struct{}{}:
			default:
			}
		}
	}
	p.claim(0)
	// Spin briefly for the other parts, then sleep: on a loaded machine a
	// worker may be off its core, and spinning would keep it off.
	for spins := 0; p.pending.Load() != 0; spins++ {
		if spins < 256 {
			continue
		}
		p.waiting.Swap(true) // a read-modify-write: see await
		if p.pending.Load() != 0 {
			<-p.done
		}
		p.waiting.Store(false)
		select { // a signal sent after the re-check found zero
		case <-p.done:
		default:
		}
	}
	p.fn = nil
}

func (p *pool) worker(i int, seen uint64) {
	defer p.wg.Done()
	for {
		if !p.await(i, seen) {
			return
		}
		seen++
		if i+1 < p.parts(p.n, p.grain) {
			p.claim(i + 1)
		}
		if p.pending.Add(-1) == 0 && p.waiting.Load() {
			select {
			case p.done <- struct{}{}:
			default:
			}
		}
	}
}

// claim runs fn on the job's next chunks as worker i until none is left.
func (p *pool) claim(i int) {
	for {
		lo := int(p.next.Add(int64(p.chunk))) - p.chunk
		if lo >= p.n {
			return
		}
		p.fn(i, lo, min(lo+p.chunk, p.n))
	}
}

// await waits for the generation after seen; false means close.
func (p *pool) await(i int, seen uint64) bool {
	var since time.Time
	for spins := 0; ; spins++ {
		if p.quit.Load() {
			return false
		}
		if p.gen.Load() != seen {
			return true
		}
		if spins < 64 {
			continue
		}
		if since.IsZero() {
			since = time.Now()
		}
		if time.Since(since) < spinFor {
			runtime.Gosched()
			continue
		}
		// Park. The caller moves gen before it reads sleeping, and this
		// worker sets sleeping before it reads gen again, so one of the
		// two sees the other (a stale wake-up only costs a loop). Both
		// writes are read-modify-writes (gen.Add, Swap): Go's atomics are
		// sequentially consistent either way, but qemu-user running arm64
		// on x86 lets a plain store-release pass a later load-acquire,
		// and the arm64 run of the tests deadlocked on it.
		p.sleeping[i].Swap(true)
		if p.gen.Load() == seen && !p.quit.Load() {
			<-p.wake[i]
		}
		p.sleeping[i].Store(false)
		since = time.Time{}
	}
}

// close stops the workers and waits for them; a later run starts new ones.
func (p *pool) close() {
	if !p.started {
		return
	}
	p.quit.Store(true)
	for _, c := range p.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	p.wg.Wait()
	p.started = false
}
