package cebus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

// Message is one delivery of one event. Settle it once with Ack, Nack or Term; Extend as often as needed first.
// Every settle returns once the broker confirmed it on the subscription's stream.
type Message struct {
	Event       *Event
	DeliveryID  string
	Attempt     uint32 // 1 for the first delivery, then 1 + nacks + expired leases
	Partition   uint32
	Offset      int64
	PublishTime time.Time
	// LeaseDeadline is when the broker redelivers the event unless it is settled (the broker's clock, as
	// delivered; Extend moves it on at the broker). Zero for at-most-once.
	LeaseDeadline time.Time

	stream  *consumeStream // the stream it came on, which carries its settles
	mu      sync.Mutex
	settled string
}

func newMessage(d *cebusv1.Delivery, stream *consumeStream) *Message {
	m := &Message{
		Event: d.GetEvent(), DeliveryID: d.GetDeliveryId(), Attempt: d.GetAttempt(), Partition: d.GetPartition(),
		Offset: d.GetOffset(), PublishTime: d.GetPublishTime().AsTime(), stream: stream,
	}
	if deadline := d.GetLeaseDeadline(); deadline != nil {
		m.LeaseDeadline = deadline.AsTime()
	}
	return m
}

// ID is the event's id.
func (m *Message) ID() string { return m.Event.GetId() }

// Key is the event's partition key (its partitionkey attribute; "" when it has none).
func (m *Message) Key() string { return Attribute(m.Event, "partitionkey") }

// Sequence is the event's sequence attribute, set by the broker: its offset, zero-padded to 20 digits.
func (m *Message) Sequence() string { return Attribute(m.Event, "sequence") }

// Type is the event's type.
func (m *Message) Type() string { return m.Event.GetType() }

// Source is the event's source.
func (m *Message) Source() string { return m.Event.GetSource() }

// Data is the event's data as bytes (text data as its UTF-8 bytes; nil when it has none).
func (m *Message) Data() []byte { return Data(m.Event) }

// Text is the event's data as text.
func (m *Message) Text() string { return string(Data(m.Event)) }

// DecodeJSON decodes the event's JSON data into v (a pointer). An event whose datacontenttype is set and is not
// JSON, or whose data is not valid JSON for v, gives an *Error with CodeInvalidArgument.
func (m *Message) DecodeJSON(v any) error {
	contentType := Attribute(m.Event, "datacontenttype")
	if contentType != "" && !strings.Contains(strings.ToLower(contentType), "json") {
		return &Error{Code: CodeInvalidArgument, Field: "datacontenttype", Message: fmt.Sprintf("event %s has data of type %q, not JSON; read it with Text or Data", m.ID(), contentType)}
	}
	if err := json.Unmarshal(m.Data(), v); err != nil {
		return &Error{Code: CodeInvalidArgument, Field: "data", Message: fmt.Sprintf("event %s's data does not decode as JSON into %T (%v); read it with Text or Data", m.ID(), v, err), cause: err}
	}
	return nil
}

// Ack confirms the message: once it returns nil, the event is never redelivered to this subscription. Acks
// given while an earlier settle is being sent travel together, in one Settle.
func (m *Message) Ack(ctx context.Context) error {
	return m.wait(ctx, "acked", settleRequest{kind: settleAck})
}

// Nack asks for redelivery after delay (0: the subscription's retry backoff).
func (m *Message) Nack(ctx context.Context, delay time.Duration) error {
	return m.wait(ctx, "nacked", settleRequest{kind: settleNack, duration: delay})
}

// Term gives up on the event: it is dead-lettered now (or dropped when the subscription has no dead-letter topic).
func (m *Message) Term(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "terminated by consumer"
	}
	return m.wait(ctx, "terminated", settleRequest{kind: settleTerm, reason: reason})
}

// Extend pushes the lease deadline out by extension from now (0: the subscription's ack deadline). Call it any
// number of times before the message is settled.
func (m *Message) Extend(ctx context.Context, extension time.Duration) error {
	return m.wait(ctx, "", settleRequest{kind: settleExtend, duration: extension})
}

// wait sends a settle (action: what it makes the message; "" for an extend) and returns the broker's
// confirmation, or ctx's error (the settle may then still be applied).
func (m *Message) wait(ctx context.Context, action string, request settleRequest) error {
	confirmed, err := m.start(action, request)
	if err != nil {
		return err
	}
	select {
	case err := <-confirmed:
		return err
	case <-ctx.Done():
		return toError(ctx.Err(), m.stream.url())
	}
}

// start marks the message settled (once; an extend only checks it is not) and sends the settle on the stream the
// message came on; it returns where the confirmation comes.
func (m *Message) start(action string, request settleRequest) (<-chan error, error) {
	m.mu.Lock()
	if done := m.settled; done != "" {
		m.mu.Unlock()
		if action == "" {
			return nil, &Error{Code: CodeFailedPrecondition, Message: fmt.Sprintf("message %s (delivery %s) was already %s; extend before settling", m.ID(), m.DeliveryID, done)}
		}
		return nil, &Error{Code: CodeFailedPrecondition, Message: fmt.Sprintf("message %s (delivery %s) was already %s; settle each message once", m.ID(), m.DeliveryID, done)}
	}
	if action != "" {
		m.settled = action
	}
	m.mu.Unlock()
	if m.stream == nil {
		return nil, &Error{Code: CodeFailedPrecondition, Message: fmt.Sprintf("message %s was not delivered by a subscription, so there is nothing to settle", m.ID())}
	}
	return m.stream.settle(m.DeliveryID, request)
}
