package cebus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Message is one delivery of one event. Settle it once with Ack, Nack or Term; Extend as often as needed first.
type Message struct {
	Event       *Event
	DeliveryID  string
	Attempt     uint32 // 1 for the first delivery, then 1 + nacks + expired leases
	Partition   uint32
	Offset      int64
	PublishTime time.Time
	// LeaseDeadline is when the broker redelivers the event unless it is settled (as delivered; Extend moves it on at
	// the broker). Zero for at-most-once.
	LeaseDeadline time.Time

	sub     *Subscription
	mu      sync.Mutex
	settled string
}

// Data is the event's data as bytes.
func (m *Message) Data() []byte { return Data(m.Event) }

func (m *Message) settle(ctx context.Context, action string, call func() error) error {
	m.mu.Lock()
	if m.settled != "" {
		done := m.settled
		m.mu.Unlock()
		return &Error{Code: CodeFailedPrecondition, Message: fmt.Sprintf("message %s (delivery %s) was already %s; settle each message once", m.Event.GetId(), m.DeliveryID, done)}
	}
	m.settled = action
	m.mu.Unlock()
	m.sub.forget(m.DeliveryID)
	return toError(call(), m.sub.client.url)
}

// Ack confirms the message: once it returns nil, the event is never redelivered to this subscription.
func (m *Message) Ack(ctx context.Context) error {
	return m.settle(ctx, "acked", func() error {
		_, err := m.sub.client.subscriber.Ack(ctx, connect.NewRequest(&cebusv1.AckRequest{Subscription: m.sub.name, DeliveryIds: []string{m.DeliveryID}}))
		return err
	})
}

// Nack asks for redelivery after delay (0: the subscription's retry backoff).
func (m *Message) Nack(ctx context.Context, delay time.Duration) error {
	return m.settle(ctx, "nacked", func() error {
		request := &cebusv1.NackRequest{Subscription: m.sub.name, DeliveryIds: []string{m.DeliveryID}}
		if delay > 0 {
			request.Delay = durationpb.New(delay)
		}
		_, err := m.sub.client.subscriber.Nack(ctx, connect.NewRequest(request))
		return err
	})
}

// Term gives up on the event: it is dead-lettered now (or dropped when the subscription has no dead-letter topic).
func (m *Message) Term(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "terminated by consumer"
	}
	return m.settle(ctx, "terminated", func() error {
		_, err := m.sub.client.subscriber.Term(ctx, connect.NewRequest(&cebusv1.TermRequest{Subscription: m.sub.name, DeliveryIds: []string{m.DeliveryID}, Reason: reason}))
		return err
	})
}

// Extend pushes the ack deadline out by extension from now (0: the subscription's ack deadline).
func (m *Message) Extend(ctx context.Context, extension time.Duration) error {
	m.mu.Lock()
	done := m.settled
	m.mu.Unlock()
	if done != "" {
		return &Error{Code: CodeFailedPrecondition, Message: fmt.Sprintf("message %s (delivery %s) was already %s; extend before settling", m.Event.GetId(), m.DeliveryID, done)}
	}
	request := &cebusv1.ExtendLeaseRequest{Subscription: m.sub.name, DeliveryIds: []string{m.DeliveryID}}
	if extension > 0 {
		request.Extension = durationpb.New(extension)
	}
	_, err := m.sub.client.subscriber.ExtendLease(ctx, connect.NewRequest(request))
	return toError(err, m.sub.client.url)
}
