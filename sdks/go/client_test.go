package cebus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
	cloudeventsv1 "github.com/cebus/cebus/sdks/go/gen/io/cloudevents/v1"
)

// bounded is a context cancelled after 60 s: a failure bound for the whole test, never a wait. It has no deadline,
// since a publish with a deadline goes unary and the tests mean to exercise the publish stream.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(60*time.Second, cancel)
	t.Cleanup(func() { timer.Stop(); cancel() })
	return ctx
}

// setup makes a client of b, a topic of two partitions and a subscription to it from the earliest event.
func setup(t *testing.T, b *broker, options cebus.SubscriptionOptions, clientOptions ...cebus.ClientOption) (*cebus.Client, string, string, context.Context) {
	t.Helper()
	ctx := bounded(t)
	client, err := cebus.NewClient(b.URL, clientOptions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	topic, sub := unique("orders"), unique("billing")
	if _, err := client.CreateTopic(ctx, topic, cebus.TopicOptions{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	options.StartAt = cebus.Earliest()
	if _, err := client.CreateSubscription(ctx, sub, topic, options); err != nil {
		t.Fatal(err)
	}
	return client, topic, sub, ctx
}

func event(t *testing.T, data any, options ...cebus.EventOption) *cebus.Event {
	t.Helper()
	e, err := cebus.NewEvent("/shop", "order.created", data, options...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPublishThenConsumeDeliversTheEventAndAckSettlesIt(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{})
	results, err := client.Publish(ctx, topic, event(t, map[string]any{"id": 42}, cebus.WithID("o-42")))
	if err != nil || len(results) != 1 || results[0].Duplicate {
		t.Fatalf("publish: %v %+v", err, results)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID() != "o-42" || m.Type() != "order.created" || m.Source() != "/shop" || m.Text() != `{"id":42}` || m.Attempt != 1 {
		t.Fatalf("got %s %s %s %q attempt %d", m.ID(), m.Type(), m.Source(), m.Data(), m.Attempt)
	}
	var order struct{ ID int }
	if err := m.DecodeJSON(&order); err != nil || order.ID != 42 {
		t.Fatalf("DecodeJSON: %v %+v", err, order)
	}
	if cebus.Attribute(m.Event, "datacontenttype") != "application/json" {
		t.Fatalf("datacontenttype %q", cebus.Attribute(m.Event, "datacontenttype"))
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(ctx); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
		t.Fatalf("a second ack should fail with failed_precondition, got %v", err)
	}
}

func TestPublishingTheSameSourceAndIDAgainIsADuplicate(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	first, err := client.Publish(ctx, topic, event(t, "a", cebus.WithID("same")))
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.Publish(ctx, topic, event(t, "b", cebus.WithID("same")))
	if err != nil || !again[0].Duplicate || again[0].Offset != first[0].Offset {
		t.Fatalf("second publish: %v %+v (first %+v)", err, again, first)
	}
}

func TestNackRedeliversWithTheNextAttempt(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{})
	if _, err := client.Publish(ctx, topic, event(t, "x")); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Nack(ctx, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	again, err := s.Next(ctx)
	if err != nil || again.Event.GetId() != m.Event.GetId() || again.Attempt != 2 {
		t.Fatalf("redelivery: %v %+v", err, again)
	}
	if err := again.Term(ctx, "poison"); err != nil {
		t.Fatal(err)
	}
}

func TestAMessageCarriesItsLeaseDeadlineAndNoneAtMostOnce(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{AckDeadline: 45 * time.Second})
	once := unique("once")
	if _, err := client.CreateSubscription(ctx, once, topic, cebus.SubscriptionOptions{StartAt: cebus.Earliest(), DeliveryMode: cebus.AtMostOnce}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Publish(ctx, topic, event(t, "x")); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// the broker leased it after storing it and before this process received it (one machine, one clock)
	leasedAt := m.LeaseDeadline.Add(-45 * time.Second)
	if m.LeaseDeadline.IsZero() || leasedAt.Before(m.PublishTime) || leasedAt.After(time.Now()) {
		t.Fatalf("lease deadline %v: published %v, received by %v", m.LeaseDeadline, m.PublishTime, time.Now())
	}
	o := client.Consume(ctx, once)
	defer o.Close()
	unleased, err := o.Next(ctx)
	if err != nil || !unleased.LeaseDeadline.IsZero() {
		t.Fatalf("at-most-once delivery: %v, lease deadline %v", err, unleased)
	}
}

func TestSubscribeAcksOnNilAndNacksOnErrorKeepingKeyOrder(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{Ordered: true})
	var events []*cebus.Event
	for i := range 5 {
		events = append(events, event(t, string(rune('a'+i)), cebus.WithPartitionKey("customer-1")))
	}
	if _, err := client.Publish(ctx, topic, events...); err != nil {
		t.Fatal(err)
	}
	var seen []string
	failed := false
	runCtx, stop := context.WithCancel(ctx)
	err := client.Subscribe(runCtx, sub, func(ctx context.Context, m *cebus.Message) error {
		seen = append(seen, string(m.Data()))
		if string(m.Data()) == "c" && !failed {
			failed = true
			return errors.New("transient") // nacked: c comes again before d
		}
		if len(seen) == 6 {
			stop()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, ""); got != "abccde" {
		t.Fatalf("delivered %q, want abccde", got)
	}
}

func TestAnUnknownSubscriptionEndsWithNotFound(t *testing.T) {
	b := startBroker(t, "memory")
	client, _, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	s := client.Consume(ctx, "no-such-subscription")
	defer s.Close()
	_, err := s.Next(ctx)
	var e *cebus.Error
	if !errors.As(err, &e) || e.Code != cebus.CodeNotFound || !strings.Contains(e.Message, "no-such-subscription") {
		t.Fatalf("got %v", err)
	}
}

func TestAnInvalidEventIsRejectedAndNothingIsStored(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{})
	bad := &cebus.Event{Id: "1", Source: "/shop", SpecVersion: "1.0"} // no type
	_, err := client.Publish(ctx, topic, event(t, "good"), bad)
	if e, ok := errors.AsType[*cebus.Error](err); !ok || e.Code != cebus.CodeInvalidArgument || e.Field != "events[1].type" {
		t.Fatalf("got %v", err)
	}
	if _, err := client.Publish(ctx, topic, event(t, "after", cebus.WithID("after"))); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	m, err := s.Next(ctx)
	if err != nil || m.Event.GetId() != "after" {
		t.Fatalf("the rejected batch left something stored: %v %v", err, m.Event.GetId())
	}
}

func TestABadURLOrAnUnreachableBrokerGivesOneClearError(t *testing.T) {
	_, err := cebus.NewClient("localhost:8080")
	if cebus.CodeOf(err) != cebus.CodeInvalidArgument {
		t.Fatalf("bad URL: %v", err)
	}
	// The example it gives is the broker's default address (cebus serve listens on 8080).
	if !strings.Contains(err.Error(), "give one like http://127.0.0.1:8080") {
		t.Fatalf("the bad-URL error does not give the default broker URL as its example: %v", err)
	}
	client, err := cebus.NewClient("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Publish(context.Background(), "orders", event(t, "x"))
	if cebus.CodeOf(err) != cebus.CodeUnavailable || !strings.Contains(err.Error(), "cannot reach the Cebus broker at http://127.0.0.1:1") {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestACanceledContextStopsTheCall(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, _, _ := setup(t, b, cebus.SubscriptionOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.Publish(ctx, topic, event(t, "x")); cebus.CodeOf(err) != cebus.CodeCanceled {
		t.Fatalf("got %v", err)
	}
}

func TestIdempotentRunsEachEventsEffectOnce(t *testing.T) {
	processed := cebus.NewMemoryProcessedEvents()
	effects, duplicates := 0, 0
	handler := cebus.Idempotent(processed, func(context.Context, *cebus.Message) error { effects++; return nil }, func(*cebus.Message) { duplicates++ })
	e := &cloudeventsv1.CloudEvent{Id: "1", Source: "/s"}
	for range 3 {
		if err := handler(context.Background(), &cebus.Message{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	if effects != 1 || duplicates != 2 {
		t.Fatalf("effects %d duplicates %d", effects, duplicates)
	}
}
