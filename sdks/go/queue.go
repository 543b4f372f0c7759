package cebus

import (
	"context"
	"sync"
)

// queue is an unbounded FIFO that one side pushes to without ever waiting and the other side pops from, waiting
// for an item or for the end. A subscription's deliveries and status events go through one each: the stream's
// reader must never wait for the application (it also reads the settle confirmations the application waits for),
// and flow control bounds how many deliveries are held.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	ended  bool
	err    error         // why it ended, returned once the items are taken
	signal chan struct{} // holds a token while items or the end wait to be seen
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{signal: make(chan struct{}, 1)}
}

// push adds v; it reports false (and drops v) once the queue has ended.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended {
		return false
	}
	q.items = append(q.items, v)
	q.notify()
	return true
}

// end stops the queue: pop returns what is left, then err. With drop, what is left is dropped.
func (q *queue[T]) end(err error, drop bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended {
		return
	}
	q.ended, q.err = true, err
	if drop {
		q.items = nil
	}
	q.notify()
}

// notify leaves a token for a waiting pop. Called with mu held.
func (q *queue[T]) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop returns the next item, waiting for one; after the end it returns done and the end's error. ctx ends the
// wait with ctx's error.
func (q *queue[T]) pop(ctx context.Context) (item T, done bool, err error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			item = q.items[0]
			var zero T
			q.items[0] = zero
			q.items = q.items[1:]
			if len(q.items) > 0 || q.ended {
				q.notify() // another waiter may take the rest
			}
			q.mu.Unlock()
			return item, false, nil
		}
		if q.ended {
			q.notify()
			q.mu.Unlock()
			return item, true, q.err
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return item, false, ctx.Err()
		}
	}
}
