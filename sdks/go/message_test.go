package cebus_test

import (
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

func TestAMessageIsSettledOnceAndExtendedAnyNumberOfTimesBefore(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{AckDeadline: 5 * time.Second})
	if _, err := client.Publish(ctx, topic, event(t, "x")); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	m := take(t, ctx, s, 1)[0]
	for range 3 {
		if err := m.Extend(ctx, time.Minute); err != nil {
			t.Fatalf("extend: %v", err)
		}
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	for name, settle := range map[string]func() error{
		"ack":    func() error { return m.Ack(ctx) },
		"nack":   func() error { return m.Nack(ctx, 0) },
		"term":   func() error { return m.Term(ctx, "") },
		"extend": func() error { return m.Extend(ctx, 0) },
	} {
		if err := settle(); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
			t.Fatalf("%s after the ack: %v", name, err)
		}
	}
}

func TestASettleTheBrokerRefusesFailsWithTheBrokersCode(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{AckDeadline: time.Second, Retry: &cebus.RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	if _, err := client.Publish(ctx, topic, event(t, "x", cebus.WithID("expires"))); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	first := take(t, ctx, s, 1)[0]
	again := take(t, ctx, s, 1)[0] // the lease expired: the event came back on the same stream
	if again.ID() != "expires" || again.Attempt != 2 {
		t.Fatalf("the redelivery: %s attempt %d", again.ID(), again.Attempt)
	}
	if err := first.Ack(ctx); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
		t.Fatalf("an ack of the expired delivery: %v", err)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMessageDataDecodesAsJSONTextOrBytes(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, sub, ctx := setup(t, b, cebus.SubscriptionOptions{})
	text := event(t, "plain", cebus.WithID("text"), cebus.WithExtension("datacontenttype", "text/plain"))
	binary := event(t, []byte{0, 1, 2}, cebus.WithID("binary"))
	object := event(t, map[string]any{"n": 7}, cebus.WithID("json"))
	if _, err := client.Publish(ctx, topic, text, binary, object); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	byID := map[string]*cebus.Message{}
	for _, m := range take(t, ctx, s, 3) {
		byID[m.ID()] = m
	}
	var n struct{ N int }
	if err := byID["json"].DecodeJSON(&n); err != nil || n.N != 7 {
		t.Fatalf("JSON: %v %+v", err, n)
	}
	if byID["text"].Text() != "plain" || string(byID["binary"].Data()) != "\x00\x01\x02" {
		t.Fatalf("text %q, bytes %v", byID["text"].Text(), byID["binary"].Data())
	}
	if err := byID["text"].DecodeJSON(&n); cebus.CodeOf(err) != cebus.CodeInvalidArgument {
		t.Fatalf("text/plain data decoded as JSON: %v", err)
	}
}
