package cebus

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"sync"
	"time"

	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

// ErrClosed is returned by Next once the subscription was closed.
var ErrClosed = &Error{Code: CodeCanceled, Message: "the subscription was closed"}

type subscribeConfig struct {
	maxOutstanding      uint32
	maxOutstandingBytes int64
	consumerName        string
	statusHandler       func(Status)
	sequenceCheck       bool
}

func (c subscribeConfig) flow() *cebusv1.FlowControl {
	return &cebusv1.FlowControl{MaxOutstandingEvents: c.maxOutstanding, MaxOutstandingBytes: c.maxOutstandingBytes}
}

// SubscribeOption configures Consume and Subscribe.
type SubscribeOption func(*subscribeConfig)

// WithMaxOutstanding caps how many unsettled messages the subscription holds [100]; the broker never sends more.
func WithMaxOutstanding(n uint32) SubscribeOption {
	return func(c *subscribeConfig) { c.maxOutstanding = n }
}

// WithMaxOutstandingBytes caps how many bytes of unsettled messages the subscription holds [8 MiB].
func WithMaxOutstandingBytes(n int64) SubscribeOption {
	return func(c *subscribeConfig) { c.maxOutstandingBytes = n }
}

// WithConsumerName names this consumer in the broker's views and logs.
func WithConsumerName(name string) SubscribeOption {
	return func(c *subscribeConfig) { c.consumerName = name }
}

// Reconnect waits: 100 ms doubling to 5 s, with half jitter; back to 100 ms once a stream is open.
const (
	firstReconnectDelay = 100 * time.Millisecond
	maxReconnectDelay   = 5 * time.Second
)

// Subscription is a live consumer of a named subscription over the Consume stream. It reconnects by itself with
// backoff when the stream drops; messages it held then are redelivered by the broker once their lease expires. A
// permanent error (CodeNotFound, CodePermissionDenied, ...) ends it. Close it when done.
type Subscription struct {
	client   *Client
	name     string
	config   subscribeConfig
	messages *queue[*Message]
	status   *statusReporter
	sequence *sequenceCheck // nil unless WithSequenceCheck
	wake     chan struct{}  // interrupts the wait before a reconnect
	done     chan struct{}  // closed when the run loop has ended

	closeOnce sync.Once
	mu        sync.Mutex
	closing   bool
	current   *consumeStream
	unwatch   func() bool // stops watching Consume's ctx
}

// Consume starts consuming subscription; read messages with Next or Messages. Errors come from Next: an unknown
// subscription ends it with CodeNotFound. Cancelling ctx closes it, as Close does.
func (c *Client) Consume(ctx context.Context, subscription string, options ...SubscribeOption) *Subscription {
	cfg := subscribeConfig{maxOutstanding: 100, maxOutstandingBytes: 8 << 20}
	for _, option := range options {
		option(&cfg)
	}
	s := &Subscription{
		client: c, name: subscription, config: cfg, messages: newQueue[*Message](),
		status: newStatusReporter(cfg.statusHandler), wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if cfg.sequenceCheck {
		s.sequence = newSequenceCheck(maxSequenceKeys)
	}
	if !c.track(s) {
		s.messages.end(errClientClosed(), true)
		s.status.end()
		close(s.done)
		return s
	}
	go s.run(context.WithoutCancel(ctx))
	unwatch := context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Lock()
	s.unwatch = unwatch
	s.mu.Unlock()
	return s
}

// Next returns the next message. It returns the error that ended the subscription (such as CodeNotFound),
// ErrClosed after Close, or ctx's error.
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	m, done, err := s.messages.pop(ctx)
	if done {
		return nil, err
	}
	if err != nil {
		return nil, toError(err, s.client.url)
	}
	return m, nil
}

// Messages iterates over the messages until the subscription ends; the last pair carries the error that ended
// it, unless it was closed (or ctx ended), which ends the iteration quietly.
func (s *Subscription) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		for {
			m, err := s.Next(ctx)
			if errors.Is(err, ErrClosed) || (err != nil && ctx.Err() != nil) {
				return
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// Close stops consuming cleanly: the settles already given are sent and confirmed, then the stream is
// half-closed and the broker releases every message this subscription holds unsettled (received, or still on its
// way) for redelivery at once. Settling a message after Close fails with CodeFailedPrecondition. It is safe to
// call more than once.
func (s *Subscription) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		current, unwatch := s.current, s.unwatch
		s.mu.Unlock()
		s.messages.end(ErrClosed, true)
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if current != nil {
			current.close()
		}
		s.client.untrack(s)
		if unwatch != nil {
			unwatch()
		}
	})
	<-s.done
	return nil
}

func (s *Subscription) deliver(m *Message) {
	if s.sequence != nil {
		if status, anomalous := s.sequence.check(m); anomalous {
			s.status.report(status)
		}
	}
	s.messages.push(m)
}

func (s *Subscription) run(ctx context.Context) {
	defer close(s.done)
	defer s.status.end()
	delay, attempt := firstReconnectDelay, 0
	for {
		opened, err := s.stream(ctx, func() {
			delay, attempt = firstReconnectDelay, 0
			s.status.report(Status{Kind: StatusConnected})
		})
		if !opened {
			return
		}
		if permanent(err) {
			s.status.report(Status{Kind: StatusError, Err: err})
			s.messages.end(err, false)
			return
		}
		s.status.report(Status{Kind: StatusDisconnected, Err: err})
		attempt++
		wait := delay/2 + rand.N(delay/2+1)
		s.status.report(Status{Kind: StatusReconnecting, Delay: wait, Attempt: attempt})
		if !s.sleep(wait) {
			return
		}
		delay = min(delay*2, maxReconnectDelay)
	}
}

// stream runs one Consume stream until it ends and returns why it ended; opened is false once the subscription
// is closing (then nothing more is reported).
func (s *Subscription) stream(ctx context.Context, connected func()) (opened bool, err error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false, nil
	}
	cs := newConsumeStream(s, ctx)
	s.current = cs
	s.mu.Unlock()
	err = cs.run(connected)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = nil
	return !s.closing, err
}

// sleep waits d before the next stream; false when the subscription was closed meanwhile.
func (s *Subscription) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.wake:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing
}
