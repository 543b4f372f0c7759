package cebus

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// defaultRetryHint is the wait when the broker refused for load without saying how long.
const defaultRetryHint = 100 * time.Millisecond

// retryWhileExhausted runs a publish until the broker stops refusing it for load. A broker under load answers
// resource_exhausted with a retry hint; a publish is safe to send again (the broker's dedupe on source and id), so
// this waits the hint with ±50% jitter (so refused clients do not all come back at once) and runs it again, waiting
// budget at most in all; then the last refusal is the caller's. ctx ends the waiting early.
func retryWhileExhausted(ctx context.Context, budget time.Duration, run func() ([]PublishResult, error)) ([]PublishResult, error) {
	var waited time.Duration
	for {
		results, err := run()
		e, ok := errors.AsType[*Error](err)
		if err == nil || !ok || e.Code != CodeResourceExhausted {
			return results, err
		}
		hint := e.RetryAfter
		if hint <= 0 {
			hint = defaultRetryHint
		}
		wait := hint/2 + rand.N(hint+1) // hint × [0.5, 1.5]
		if waited+wait > budget {
			return nil, err
		}
		waited += wait
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, err
		case <-timer.C:
		}
	}
}
