package cebus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

// statusLog records the statuses a WithStatusHandler handler gets, in order, and lets a test wait for one.
type statusLog struct {
	mu       sync.Mutex
	statuses []cebus.Status
	changed  chan struct{}
}

func newStatusLog() *statusLog { return &statusLog{changed: make(chan struct{}, 1)} }

func (l *statusLog) handle(s cebus.Status) {
	l.mu.Lock()
	l.statuses = append(l.statuses, s)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *statusLog) all() []cebus.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cebus.Status(nil), l.statuses...)
}

// waitFor waits until the handler has had n statuses of kind.
func (l *statusLog) waitFor(t *testing.T, ctx context.Context, kind cebus.StatusKind, n int) {
	t.Helper()
	for {
		seen := 0
		for _, s := range l.all() {
			if s.Kind == kind {
				seen++
			}
		}
		if seen >= n {
			return
		}
		select {
		case <-l.changed:
		case <-ctx.Done():
			t.Fatalf("no %d %q statuses; got %+v", n, kind, l.all())
		}
	}
}

func TestAfterTheBrokerIsKilledTheSubscriptionReconnectsReportingEachStatusInOrder(t *testing.T) {
	b := startBroker(t, "")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{AckDeadline: time.Second})
	if _, err := client.Publish(ctx, topic, event(t, "kept", cebus.WithID("kept"))); err != nil {
		t.Fatal(err)
	}
	log := newStatusLog()
	s := client.Consume(ctx, sub, cebus.WithStatusHandler(log.handle))
	defer s.Close()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.restart(t) // kill -9 and start again on the same port and store: the stream breaks with the event unacked
	// The event comes back on the new stream once its lease expires, as attempt 2: the lease was durable before
	// the event went out, so the kill did not lose it.
	again, err := s.Next(ctx)
	if err != nil || again.ID() != "kept" || again.Attempt != 2 {
		t.Fatalf("after the restart: %v %+v", err, again)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(ctx); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
		t.Fatalf("an ack of a delivery from the broken stream: %v", err)
	}
	log.waitFor(t, ctx, cebus.StatusConnected, 2)
	checkReconnectStatuses(t, log.all())
}

// checkReconnectStatuses checks connected, then (disconnected, reconnecting)+, then connected: attempts counting
// from 1 and waits of d/2..d for d = 100 ms doubling.
func checkReconnectStatuses(t *testing.T, statuses []cebus.Status) {
	t.Helper()
	last := len(statuses) - 1
	if len(statuses) < 4 || statuses[0].Kind != cebus.StatusConnected || statuses[last].Kind != cebus.StatusConnected || last%2 != 1 {
		t.Fatalf("statuses %+v", statuses)
	}
	delay := 100 * time.Millisecond
	for i := 1; i < last; i += 2 {
		gone, next := statuses[i], statuses[i+1]
		attempt := (i + 1) / 2
		if gone.Kind != cebus.StatusDisconnected || next.Kind != cebus.StatusReconnecting || next.Attempt != attempt {
			t.Fatalf("status %d and %d: %+v %+v (all: %+v)", i, i+1, gone, next, statuses)
		}
		if next.Delay < delay/2 || next.Delay > delay {
			t.Fatalf("reconnect attempt %d waits %v, want %v to %v", attempt, next.Delay, delay/2, delay)
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func TestAPermanentErrorEndsTheSubscriptionAndIsTheLastStatus(t *testing.T) {
	b := startBroker(t, "memory")
	client, _, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	log := newStatusLog()
	s := client.Consume(ctx, "no-such-subscription", cebus.WithStatusHandler(log.handle))
	defer s.Close()
	_, err := s.Next(ctx)
	if e, ok := errors.AsType[*cebus.Error](err); !ok || e.Code != cebus.CodeNotFound {
		t.Fatalf("Next: %v", err)
	}
	log.waitFor(t, ctx, cebus.StatusError, 1)
	// The run loop has ended with the error, so nothing can come after it.
	statuses := log.all()
	if len(statuses) != 1 || cebus.CodeOf(statuses[0].Err) != cebus.CodeNotFound {
		t.Fatalf("statuses %+v, want the error alone", statuses)
	}
	for m, err := range s.Messages(ctx) {
		if m != nil || cebus.CodeOf(err) != cebus.CodeNotFound {
			t.Fatalf("Messages after the error: %v %v", m, err)
		}
	}
}

func TestSequenceChecksPassAnOrderedSubscriptionAndReportFirstDeliveriesAgainAfterASeekBack(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{Ordered: true})
	events := make([]*cebus.Event, 12)
	for i := range events {
		events[i] = event(t, i, cebus.WithPartitionKey(fmt.Sprintf("key-%d", i%3)))
	}
	if _, err := client.Publish(ctx, topic, events...); err != nil {
		t.Fatal(err)
	}
	log := newStatusLog()
	s := client.Consume(ctx, sub, cebus.WithSequenceCheck(), cebus.WithStatusHandler(log.handle))
	defer s.Close()
	for range 12 {
		m, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Sequence() != fmt.Sprintf("%020d", m.Offset) || !strings.HasPrefix(m.Key(), "key-") {
			t.Fatalf("sequence %q key %q of offset %d", m.Sequence(), m.Key(), m.Offset)
		}
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Seek(ctx, sub, cebus.Earliest()); err != nil {
		t.Fatal(err)
	}
	again, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = again.Ack(ctx)
	log.waitFor(t, ctx, cebus.StatusSequence, 1)
	for _, status := range log.all() {
		if status.Kind == cebus.StatusSequence && status.Anomaly != cebus.SequenceOutOfOrder {
			t.Fatalf("after a seek back: %+v", status)
		}
	}
}
