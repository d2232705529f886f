package agenthost

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of RetryOptions (the SDK's).
const (
	DefaultRetryAttempts  = 3
	DefaultRetryBaseDelay = 100 * time.Millisecond
	DefaultRetryMaxDelay  = 3 * time.Second
)

// RetryOptions say how often and how patiently to retry. Zero fields take
// the class's defaults (Class.Retry), then the package defaults.
type RetryOptions struct {
	// MaxAttempts counts every attempt, the first included. Default 3.
	MaxAttempts int `cbor:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	// BaseDelay is the delay scale: the wait before attempt a+1 is
	// uniform in [0, min(MaxDelay, BaseDelay·2^a)) ("full jitter").
	// Default 100ms.
	BaseDelay time.Duration `cbor:"base_delay,omitempty" json:"base_delay,omitempty"`
	// MaxDelay caps the delay. Default 3s.
	MaxDelay time.Duration `cbor:"max_delay,omitempty" json:"max_delay,omitempty"`
}

// merge fills the zero fields of o from d.
func (o RetryOptions) merge(d RetryOptions) RetryOptions {
	if o.MaxAttempts == 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.BaseDelay == 0 {
		o.BaseDelay = d.BaseDelay
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = d.MaxDelay
	}
	return o
}

var defaultRetry = RetryOptions{MaxAttempts: DefaultRetryAttempts, BaseDelay: DefaultRetryBaseDelay, MaxDelay: DefaultRetryMaxDelay}

// Validate checks the options after defaults are applied, as the SDK does
// eagerly: at least one attempt, positive delays, base not above the cap.
func (o RetryOptions) Validate() error {
	o = o.merge(defaultRetry)
	switch {
	case o.MaxAttempts < 1:
		return fmt.Errorf("retry: max attempts %d must be at least 1", o.MaxAttempts)
	case o.BaseDelay <= 0:
		return fmt.Errorf("retry: base delay %s must be positive", o.BaseDelay)
	case o.MaxDelay <= 0:
		return fmt.Errorf("retry: max delay %s must be positive", o.MaxDelay)
	case o.BaseDelay > o.MaxDelay:
		return fmt.Errorf("retry: base delay %s is above the max delay %s", o.BaseDelay, o.MaxDelay)
	}
	return nil
}

// backoff is the full-jitter delay after the given failed attempt (1-based).
func (o RetryOptions) backoff(attempt int) time.Duration {
	ceiling := o.MaxDelay
	if attempt < 40 {
		if d := o.BaseDelay << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}

// Retry calls fn until it succeeds, the attempts run out, shouldRetry (when
// not nil) says no for an error, or ctx ends; it returns fn's last error.
// attempt counts from 1. The agent stays busy while it waits, as in the
// SDK, so keep the delays short.
func Retry(ctx context.Context, opts RetryOptions, fn func(attempt int) error, shouldRetry func(err error, nextAttempt int) bool) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	opts = opts.merge(defaultRetry)
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(attempt); err == nil {
			return nil
		}
		if attempt >= opts.MaxAttempts || (shouldRetry != nil && !shouldRetry(err, attempt+1)) {
			return err
		}
		t := time.NewTimer(opts.backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		}
	}
}

// Retry is Retry with the class's default options under opts.
func (c *Context) Retry(opts RetryOptions, fn func(attempt int) error, shouldRetry func(err error, nextAttempt int) bool) error {
	return Retry(c.in.h.ctx, opts.merge(c.in.class.Retry), fn, shouldRetry)
}
