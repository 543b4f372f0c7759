package cebus_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

// publishAll publishes each event alone, all at once from one goroutine each, and returns each call's outcome.
func publishAll(ctx context.Context, client *cebus.Client, topic string, events []*cebus.Event) ([]cebus.PublishResult, []error) {
	results := make([]cebus.PublishResult, len(events))
	errs := make([]error, len(events))
	var wg sync.WaitGroup
	for i, e := range events {
		wg.Go(func() {
			r, err := client.Publish(ctx, topic, e)
			errs[i] = err
			if err == nil {
				results[i] = r[0]
			}
		})
	}
	wg.Wait()
	return results, errs
}

func events(t *testing.T, n int, prefix string) []*cebus.Event {
	t.Helper()
	out := make([]*cebus.Event, n)
	for i := range out {
		out[i] = event(t, fmt.Sprintf("%s-%d", prefix, i), cebus.WithID(fmt.Sprintf("%s-%d", prefix, i)))
	}
	return out
}

// checkOwnResults fails unless every call succeeded with its own event's result, each at its own offset.
func checkOwnResults(t *testing.T, evs []*cebus.Event, results []cebus.PublishResult, errs []error) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("publish %d: %v", i, errs[i])
		}
		at := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
		if r.ID != evs[i].GetId() || r.Duplicate || seen[at] {
			t.Fatalf("publish %d got %+v (an offset shared or another event's result)", i, r)
		}
		seen[at] = true
	}
}

func storedCount(t *testing.T, ctx context.Context, client *cebus.Client, topic string) int64 {
	t.Helper()
	stats, err := client.TopicStats(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return stats.GetEventCount()
}

func TestSinglePublishesGatherIntoBatchesOfMaxEvents(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	// A linger of an hour is never reached: batches go only when full, whatever the machine's speed.
	batching := cebus.WithBatching(cebus.BatchingOptions{Linger: time.Hour, MaxEvents: 100})
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, batching, cebus.WithInterceptors(count))
	evs := events(t, 500, "gather")
	results, errs := publishAll(ctx, client, topic, evs)
	checkOwnResults(t, evs, results, errs)
	if got := fmt.Sprint(count.batches()); got != "[100 100 100 100 100]" {
		t.Fatalf("500 single publishes went as batches of %s, want five of 100", got)
	}
	if n := storedCount(t, ctx, client, topic); n != 500 {
		t.Fatalf("%d events stored, want 500", n)
	}
}

func TestConcurrentSinglePublishesShareBatchesByDefault(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, cebus.WithInterceptors(count))
	evs := events(t, 1000, "shared")
	results, errs := publishAll(ctx, client, topic, evs)
	checkOwnResults(t, evs, results, errs)
	batches, total := count.batches(), 0
	for _, n := range batches {
		if n > 500 {
			t.Fatalf("a batch of %d events is over the default 500", n)
		}
		total += n
	}
	t.Logf("1000 concurrent single publishes went as %d batches", len(batches))
	// Two batches are in flight at a time and the rest gather meanwhile, so 1000 calls make far fewer batches.
	if total != 1000 || len(batches) > 500 {
		t.Fatalf("1000 single publishes went as %d batches carrying %d events", len(batches), total)
	}
}

func TestAMalformedEventFailsAloneAndNeverFailsTheBatchItWouldHaveJoined(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	batching := cebus.WithBatching(cebus.BatchingOptions{Linger: time.Hour, MaxEvents: 3})
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, batching, cebus.WithInterceptors(count))
	bad := &cebus.Event{Id: "bad", Source: "/shop", SpecVersion: "1.0"} // no type
	evs := append(events(t, 3, "good"), bad)
	_, errs := publishAll(ctx, client, topic, evs)
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("good event %d: %v", i, errs[i])
		}
	}
	if e, ok := errors.AsType[*cebus.Error](errs[3]); !ok || e.Code != cebus.CodeInvalidArgument || e.Field != "event.type" {
		t.Fatalf("the malformed event: %v", errs[3])
	}
	if got := fmt.Sprint(count.batches()); got != "[3]" {
		t.Fatalf("batches %s, want the three good events in one", got)
	}
}

func TestAnEventTheBrokerRefusesFailsAloneAndTheRestOfItsBatchIsStored(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	batching := cebus.WithBatching(cebus.BatchingOptions{Linger: time.Hour, MaxEvents: 3})
	client, _, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, batching, cebus.WithInterceptors(count))
	small := unique("small")
	if _, err := client.CreateTopic(ctx, small, cebus.TopicOptions{MaxEventBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	evs := append(events(t, 2, "fits"), event(t, strings.Repeat("x", 4096), cebus.WithID("too-big")))
	_, errs := publishAll(ctx, client, small, evs)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("the events that fit: %v, %v", errs[0], errs[1])
	}
	if e, ok := errors.AsType[*cebus.Error](errs[2]); !ok || e.Code != cebus.CodeInvalidArgument || !strings.HasPrefix(e.Field, "events[") {
		t.Fatalf("the event over the topic's limit: %v", errs[2])
	}
	if n := storedCount(t, ctx, client, small); n != 2 {
		t.Fatalf("%d events stored, want the 2 that fit", n)
	}
	if got := fmt.Sprint(count.batches()); got != "[3 2]" {
		t.Fatalf("batches %s, want the refused batch of 3 and then the 2 that fit", got)
	}
}

func TestSeveralEventsInOneCallAreOneBatchAllOrNothing(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, cebus.WithInterceptors(count))
	evs := events(t, 3, "many")
	results, err := client.Publish(ctx, topic, evs...)
	if err != nil || len(results) != 3 || results[2].ID != "many-2" {
		t.Fatalf("publish: %v %+v", err, results)
	}
	if got := fmt.Sprint(count.batches()); got != "[3]" {
		t.Fatalf("batches %s, want one of 3", got)
	}
}

func TestAPublishWithADeadlineGoesUnaryAndTheRestOnTheStream(t *testing.T) {
	b := startBroker(t, "memory")
	count := newCounter()
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, cebus.WithInterceptors(count))
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := client.Publish(bounded, topic, event(t, "bounded")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Publish(ctx, topic, event(t, "streamed")); err != nil {
		t.Fatal(err)
	}
	if n := count.unaryCalls("/cebus.v1.PublisherService/Publish"); n != 1 || len(count.batches()) != 1 {
		t.Fatalf("%d unary publishes and stream batches %v, want 1 and [1]", n, count.batches())
	}
}

func TestAnEventWithoutAnIDGetsARandomUUIDv4(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	made := event(t, "x")
	if !v4.MatchString(made.GetId()) {
		t.Fatalf("NewEvent gave id %q", made.GetId())
	}
	bare := &cebus.Event{Source: "/shop", Type: "order.created", SpecVersion: "1.0"}
	results, err := client.Publish(ctx, topic, bare)
	if err != nil || !v4.MatchString(results[0].ID) || bare.GetId() != results[0].ID {
		t.Fatalf("publish of an event without id: %v %+v (event id %q)", err, results, bare.GetId())
	}
}

func TestPublishingAfterCloseFailsWithFailedPrecondition(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	if _, err := client.Publish(ctx, topic, event(t, "before")); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Publish(ctx, topic, event(t, "after")); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
		t.Fatalf("publish after Close: %v", err)
	}
}
