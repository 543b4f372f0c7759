package cebus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

// field returns the code and field of err, which must be a *cebus.Error.
func field(t *testing.T, err error) (cebus.Code, string) {
	t.Helper()
	e, ok := errors.AsType[*cebus.Error](err)
	if !ok {
		t.Fatalf("%v (%T) is not a *cebus.Error", err, err)
	}
	return e.Code, e.Field
}

func TestBrokerErrorsNameTheFieldAtFaultOnUnaryCallsAndOnTheStream(t *testing.T) {
	b := startBroker(t, "memory")
	client, _, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	_, err := client.CreateTopic(ctx, "no spaces allowed", cebus.TopicOptions{})
	if code, f := field(t, err); code != cebus.CodeInvalidArgument || f != "topic.name" {
		t.Fatalf("a bad topic name: %s %q (%v)", code, f, err)
	}
	_, err = client.CreateSubscription(ctx, unique("orphan"), "missing-topic", cebus.SubscriptionOptions{})
	if code, f := field(t, err); code != cebus.CodeNotFound || f != "subscription.topic" {
		t.Fatalf("a subscription to a missing topic: %s %q (%v)", code, f, err)
	}
	// The same refusal on the stream (its PublishFailure) and unary (its ErrorInfo detail).
	_, err = client.Publish(ctx, "missing-topic", event(t, "x"))
	if code, f := field(t, err); code != cebus.CodeNotFound || f != "topic" || !strings.Contains(err.Error(), "create it first") {
		t.Fatalf("a publish on the stream to a missing topic: %s %q (%v)", code, f, err)
	}
	deadline, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = client.Publish(deadline, "missing-topic", event(t, "x"))
	if code, f := field(t, err); code != cebus.CodeNotFound || f != "topic" {
		t.Fatalf("a unary publish to a missing topic: %s %q (%v)", code, f, err)
	}
}

func TestABadURLOrOptionIsInvalidArgument(t *testing.T) {
	for _, bad := range [][]cebus.ClientOption{
		{cebus.WithBackpressureRetry(-time.Second)},
		{cebus.WithBatching(cebus.BatchingOptions{MaxEvents: -1})},
	} {
		if _, err := cebus.NewClient("http://127.0.0.1:8080", bad...); cebus.CodeOf(err) != cebus.CodeInvalidArgument {
			t.Fatalf("a bad option: %v", err)
		}
	}
	if _, err := cebus.NewClient("ftp://127.0.0.1:8080"); cebus.CodeOf(err) != cebus.CodeInvalidArgument {
		t.Fatalf("a bad scheme: %v", err)
	}
}
