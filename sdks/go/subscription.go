package cebus

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"sync"
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

// ErrClosed is returned by Next once the subscription was closed.
var ErrClosed = &Error{Code: CodeCanceled, Message: "the subscription was closed"}

// Status is a change in a subscription's connection, read from Subscription.Status.
type Status struct {
	Kind    string // "connected", "disconnected", "reconnecting" or "error"
	Err     error  // why it disconnected or failed, if known
	Delay   time.Duration
	Attempt int
}

type subscribeConfig struct {
	maxOutstanding uint32
	consumerName   string
}

// SubscribeOption configures Consume and Subscribe.
type SubscribeOption func(*subscribeConfig)

// WithMaxOutstanding caps how many messages the broker sends before some are settled (flow control).
func WithMaxOutstanding(n uint32) SubscribeOption {
	return func(c *subscribeConfig) { c.maxOutstanding = n }
}

// WithConsumerName names this consumer in the broker's views and logs.
func WithConsumerName(name string) SubscribeOption {
	return func(c *subscribeConfig) { c.consumerName = name }
}

// Subscription is a live consumer of a named subscription. It reconnects by itself with backoff when the stream
// drops; messages it held then are redelivered by the broker once their ack deadline passes. Close it when done.
type Subscription struct {
	client   *Client
	name     string
	config   subscribeConfig
	messages chan *Message
	statuses chan Status
	cancel   context.CancelFunc
	done     chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex
	err       error
	closing   bool
	consumer  string // the broker's id for the current stream's consumer, for EndReceive
	unsettled map[string]struct{}
}

// Consume starts consuming subscription; read messages with Next or Messages. It fails only for a bad name shape;
// an unknown subscription is reported by Next (CodeNotFound).
func (c *Client) Consume(ctx context.Context, subscription string, options ...SubscribeOption) *Subscription {
	cfg := subscribeConfig{}
	for _, option := range options {
		option(&cfg)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Subscription{
		client: c, name: subscription, config: cfg,
		messages: make(chan *Message), statuses: make(chan Status, 64),
		cancel: cancel, done: make(chan struct{}), unsettled: map[string]struct{}{},
	}
	go s.run(runCtx)
	context.AfterFunc(ctx, func() { _ = s.Close() })
	return s
}

// Next returns the next message. It returns the subscription's terminal error (such as CodeNotFound), ErrClosed
// after Close, or ctx's error.
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	select {
	case m, ok := <-s.messages:
		if ok {
			return m, nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err != nil {
			return nil, s.err
		}
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, toError(ctx.Err(), s.client.url)
	}
}

// Messages iterates over messages until the subscription ends; the last pair carries the error that ended it,
// unless the subscription was closed.
func (s *Subscription) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		for {
			m, err := s.Next(ctx)
			if errors.Is(err, ErrClosed) {
				return
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// Status delivers connection changes (buffered; old ones are dropped when nobody reads).
func (s *Subscription) Status() <-chan Status { return s.statuses }

// Close stops consuming cleanly: the broker releases every message this subscription holds unsettled (received
// or still on its way), so they are redelivered at once.
// It is safe to call more than once.
func (s *Subscription) Close() error {
	s.closeOnce.Do(s.close)
	<-s.done
	return nil
}

func (s *Subscription) close() {
	s.mu.Lock()
	s.closing = true
	consumer := s.consumer
	s.mu.Unlock()
	// Best effort: what cannot be released now comes back at its ack deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// EndReceive releases everything the consumer holds, including deliveries still on their way to us;
	// cancelling the stream alone would keep those leased until their deadline.
	released := false
	if consumer != "" {
		_, err := s.client.subscriber.EndReceive(ctx, connect.NewRequest(&cebusv1.EndReceiveRequest{Subscription: s.name, ConsumerId: consumer}))
		released = err == nil
	}
	s.cancel()
	<-s.done
	s.mu.Lock()
	held := make([]string, 0, len(s.unsettled))
	for id := range s.unsettled {
		held = append(held, id)
	}
	s.unsettled = map[string]struct{}{}
	s.mu.Unlock()
	if !released && len(held) > 0 {
		_, _ = s.client.subscriber.Nack(ctx, connect.NewRequest(&cebusv1.NackRequest{Subscription: s.name, DeliveryIds: held}))
	}
}

func (s *Subscription) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Subscription) forget(deliveryID string) {
	s.mu.Lock()
	delete(s.unsettled, deliveryID)
	s.mu.Unlock()
}

func (s *Subscription) status(st Status) {
	select {
	case s.statuses <- st:
	default:
	}
}

func (s *Subscription) run(ctx context.Context) {
	defer close(s.done)
	defer close(s.messages)
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.receive(ctx, func() { delay, attempt = 100*time.Millisecond, 1 })
		if ctx.Err() != nil || s.isClosing() {
			return
		}
		if permanent(err) {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.status(Status{Kind: "error", Err: err})
			return
		}
		s.status(Status{Kind: "disconnected", Err: err})
		wait := delay/2 + rand.N(delay/2+1)
		s.status(Status{Kind: "reconnecting", Delay: wait, Attempt: attempt})
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// receive runs one Receive stream until it ends; nil means the broker ended it cleanly.
func (s *Subscription) receive(ctx context.Context, connected func()) error {
	request := &cebusv1.ReceiveRequest{Subscription: s.name, ConsumerName: s.config.consumerName}
	if s.config.maxOutstanding > 0 {
		request.Flow = &cebusv1.FlowControl{MaxOutstandingEvents: s.config.maxOutstanding}
	}
	stream, err := s.client.subscriber.Receive(ctx, connect.NewRequest(request))
	if err != nil {
		return toError(err, s.client.url)
	}
	defer stream.Close()
	first := true
	for stream.Receive() {
		if first {
			first = false
			s.mu.Lock()
			s.consumer = stream.Msg().GetConsumerId()
			s.mu.Unlock()
			connected()
			s.status(Status{Kind: "connected"})
		}
		for _, d := range stream.Msg().GetDeliveries() {
			m := &Message{
				Event: d.GetEvent(), DeliveryID: d.GetDeliveryId(), Attempt: d.GetAttempt(),
				Partition: d.GetPartition(), Offset: d.GetOffset(), PublishTime: d.GetPublishTime().AsTime(), sub: s,
			}
			if deadline := d.GetLeaseDeadline(); deadline != nil {
				m.LeaseDeadline = deadline.AsTime()
			}
			s.mu.Lock()
			s.unsettled[m.DeliveryID] = struct{}{}
			s.mu.Unlock()
			select {
			case s.messages <- m:
			case <-ctx.Done():
				return nil
			}
		}
	}
	return toError(stream.Err(), s.client.url)
}
