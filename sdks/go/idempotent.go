package cebus

import (
	"context"
	"strconv"
	"sync"
)

// ProcessedEvents records which events were processed, so a redelivered event is not processed twice. Implement it
// over your own store and run the effect in the same transaction as the record (exactly-once processing).
type ProcessedEvents interface {
	// RunOnce runs effect unless key was processed; it reports whether effect ran and succeeded.
	RunOnce(ctx context.Context, key string, effect func(ctx context.Context) error) (bool, error)
}

// ProcessedKey is the key of an event in ProcessedEvents: its (source, id).
func ProcessedKey(e *Event) string {
	return strconv.Itoa(len(e.GetSource())) + ":" + e.GetSource() + e.GetId()
}

// Idempotent wraps handler so each event's effect happens once across redeliveries; duplicates are skipped and
// reported to onDuplicate (may be nil). The returned handler leaves settling to Subscribe (nil acks).
func Idempotent(processed ProcessedEvents, handler Handler, onDuplicate func(m *Message)) Handler {
	return func(ctx context.Context, m *Message) error {
		ran, err := processed.RunOnce(ctx, ProcessedKey(m.Event), func(ctx context.Context) error { return handler(ctx, m) })
		if err != nil {
			return err
		}
		if !ran && onDuplicate != nil {
			onDuplicate(m)
		}
		return nil
	}
}

// NewMemoryProcessedEvents keeps processed keys in memory (one process; for tests and caches).
func NewMemoryProcessedEvents() ProcessedEvents {
	return &memoryProcessed{done: map[string]bool{}, running: map[string]*sync.Mutex{}}
}

type memoryProcessed struct {
	mu      sync.Mutex
	done    map[string]bool
	running map[string]*sync.Mutex
}

func (p *memoryProcessed) RunOnce(ctx context.Context, key string, effect func(ctx context.Context) error) (bool, error) {
	p.mu.Lock()
	lock, ok := p.running[key]
	if !ok {
		lock = &sync.Mutex{}
		p.running[key] = lock
	}
	p.mu.Unlock()
	lock.Lock() // one run of a key at a time; a second waits and then sees it done
	defer lock.Unlock()
	p.mu.Lock()
	done := p.done[key]
	p.mu.Unlock()
	if done {
		return false, nil
	}
	if err := effect(ctx); err != nil {
		return false, err
	}
	p.mu.Lock()
	p.done[key] = true
	p.mu.Unlock()
	return true, nil
}
