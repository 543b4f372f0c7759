package cebus_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

// take reads n messages.
func take(t *testing.T, ctx context.Context, s *cebus.Subscription, n int) []*cebus.Message {
	t.Helper()
	out := make([]*cebus.Message, 0, n)
	for len(out) < n {
		m, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func ids(messages []*cebus.Message) []string {
	out := make([]string, len(messages))
	for i, m := range messages {
		out[i] = m.ID()
	}
	slices.Sort(out)
	return out
}

func stats(t *testing.T, ctx context.Context, client *cebus.Client, sub string) (backlog, inFlight int64) {
	t.Helper()
	s, err := client.SubscriptionStats(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	return s.GetBacklog(), s.GetInFlight()
}

func TestAcksGivenWhileASettleIsSentTravelInOneSettleAndAreNeverRedelivered(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	count.gate, count.entered = make(chan struct{}), make(chan struct{})
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{AckDeadline: time.Minute}, cebus.WithInterceptors(count))
	if _, err := client.Publish(ctx, topic, events(t, 100, "ack")...); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	held := take(t, ctx, s, 100)
	first := make(chan error, 1)
	go func() { first <- held[0].Ack(ctx) }()
	<-count.entered // the first ack's Settle is being sent, and held there
	// An ack with a done context is given and queued at once (it returns without waiting for the broker), so these
	// 98 acks are all given while the first Settle is in Send.
	given, stop := context.WithCancel(ctx)
	stop()
	for _, m := range held[1:99] {
		if err := m.Ack(given); cebus.CodeOf(err) != cebus.CodeCanceled {
			t.Fatalf("an ack with a done context: %v", err)
		}
	}
	close(count.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Settles are applied in order, so once the last ack is confirmed the 98 before it are applied too.
	if err := held[99].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(count.acks()); got != "[1 98 1]" {
		t.Fatalf("ack Settles carried %s delivery ids, want [1 98 1]", got)
	}
	if backlog, inFlight := stats(t, ctx, client, sub); backlog != 0 || inFlight != 0 {
		t.Fatalf("after 100 confirmed acks: backlog %d, in flight %d; nothing may come back", backlog, inFlight)
	}
}

func TestCloseReleasesHeldMessagesAtOnceToAnotherConsumer(t *testing.T) {
	b := startBroker(t, "memory")
	// Leases of a minute: a consumer that gets the events within the test's bound got them released, not expired.
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{AckDeadline: time.Minute})
	evs := events(t, 10, "held")
	if _, err := client.Publish(ctx, topic, evs...); err != nil {
		t.Fatal(err)
	}
	first := client.Consume(ctx, sub, cebus.WithMaxOutstanding(10))
	received := take(t, ctx, first, 2) // the other 8 are on their way or queued here, held all the same
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := received[0].Ack(ctx); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
		t.Fatalf("an ack after Close: %v", err)
	}
	if _, err := first.Next(ctx); err != cebus.ErrClosed {
		t.Fatalf("Next after Close: %v", err)
	}
	second := client.Consume(ctx, sub)
	defer second.Close()
	again := take(t, ctx, second, 10)
	want := make([]string, len(evs))
	for i, e := range evs {
		want[i] = e.GetId()
	}
	slices.Sort(want)
	if got := ids(again); !slices.Equal(got, want) {
		t.Fatalf("the second consumer got %v, want every event the first held: %v", got, want)
	}
	for _, m := range again {
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTheBrokerNeverSendsMoreThanMaxOutstanding(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{})
	if _, err := client.Publish(ctx, topic, events(t, 30, "flow")...); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub, cebus.WithMaxOutstanding(4))
	defer s.Close()
	held := take(t, ctx, s, 4)
	if _, inFlight := stats(t, ctx, client, sub); inFlight != 4 {
		t.Fatalf("%d in flight with WithMaxOutstanding(4)", inFlight)
	}
	for _, m := range held {
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	take(t, ctx, s, 4)
}

func TestTheBrokerNeverSendsMoreBytesThanMaxOutstandingBytes(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{})
	if _, err := client.Publish(ctx, topic, events(t, 10, "bytes")...); err != nil {
		t.Fatal(err)
	}
	// One byte holds one event at a time: the next comes once it is settled.
	s := client.Consume(ctx, sub, cebus.WithMaxOutstandingBytes(1))
	defer s.Close()
	m := take(t, ctx, s, 1)[0]
	if _, inFlight := stats(t, ctx, client, sub); inFlight != 1 {
		t.Fatalf("%d in flight with WithMaxOutstandingBytes(1)", inFlight)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	take(t, ctx, s, 1)
}
