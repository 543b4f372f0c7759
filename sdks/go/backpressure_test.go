package cebus_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

// A broker that holds at most one batch waiting for its store refuses concurrent publishes beyond it.
func startBusyBroker(t *testing.T) *broker {
	return startBroker(t, "", "--max-pending-publish-bytes", "1")
}

// tenEvents is one batch of ten 300-byte events with ids prefix-0..9.
func tenEvents(t *testing.T, prefix string) []*cebus.Event {
	t.Helper()
	out := make([]*cebus.Event, 10)
	for i := range out {
		out[i] = event(t, strings.Repeat("x", 300), cebus.WithID(fmt.Sprintf("%s-%d", prefix, i)))
	}
	return out
}

// publishBatches publishes 50 batches of ten at once and returns each call's outcome.
func publishBatches(t *testing.T, client *cebus.Client, topic string) ([][]cebus.PublishResult, []error) {
	t.Helper()
	ctx := bounded(t)
	results, errs := make([][]cebus.PublishResult, 50), make([]error, 50)
	var wg sync.WaitGroup
	for n := range 50 {
		batch := tenEvents(t, fmt.Sprintf("b%d", n))
		wg.Go(func() { results[n], errs[n] = client.Publish(ctx, topic, batch...) })
	}
	wg.Wait()
	return results, errs
}

func TestWithoutRetryTheCallerSeesResourceExhaustedWithAHintAndTheRefusedBatchIsNotStored(t *testing.T) {
	b := startBusyBroker(t)
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{}, cebus.WithBackpressureRetry(0))
	_, errs := publishBatches(t, client, topic)
	refused := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		e, ok := errors.AsType[*cebus.Error](err)
		if !ok || e.Code != cebus.CodeResourceExhausted || e.RetryAfter != 100*time.Millisecond {
			t.Fatalf("a refused batch: %#v", err)
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("the busy broker refused none of 50 concurrent batches")
	}
	if n, want := storedCount(t, ctx, client, topic), int64((50-refused)*10); n != want {
		t.Fatalf("%d events stored, want %d (the accepted batches only)", n, want)
	}
}

func TestByDefaultTheClientPublishesRefusedBatchesAgainUntilEveryEventIsStoredOnce(t *testing.T) {
	b := startBusyBroker(t)
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	results, errs := publishBatches(t, client, topic)
	for n, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
		for _, r := range results[n] {
			if r.Duplicate {
				t.Fatalf("batch %d was stored twice: %+v", n, r)
			}
		}
	}
	if n := storedCount(t, ctx, client, topic); n != 500 {
		t.Fatalf("%d events stored, want 500", n)
	}
}
