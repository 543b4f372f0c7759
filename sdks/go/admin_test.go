package cebus_test

import (
	"slices"
	"testing"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

func TestTopicsAreCreatedReadListedCountedAndDeleted(t *testing.T) {
	b := startBroker(t, "memory")
	client, _, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	name := unique("admin-topic")
	options := cebus.TopicOptions{Partitions: 3, Retention: time.Hour, DedupeWindow: time.Minute, MaxEventBytes: 4096}
	created, err := client.CreateTopic(ctx, name, options)
	if err != nil || created.GetPartitions() != 3 || created.GetRetention().AsDuration() != time.Hour {
		t.Fatalf("create: %v %v", err, created)
	}
	if _, err := client.CreateTopic(ctx, name, options); cebus.CodeOf(err) != cebus.CodeAlreadyExists {
		t.Fatalf("a second create: %v", err)
	}
	options.IfNotExists = true
	if _, err := client.CreateTopic(ctx, name, options); err != nil {
		t.Fatalf("a second create with IfNotExists: %v", err)
	}
	got, err := client.GetTopic(ctx, name)
	if err != nil || got.GetMaxEventBytes() != 4096 || got.GetDedupeWindow().AsDuration() != time.Minute {
		t.Fatalf("get: %v %v", err, got)
	}
	topics, err := client.ListTopics(ctx)
	if err != nil || !slices.ContainsFunc(topics, func(t *cebus.Topic) bool { return t.GetName() == name }) {
		t.Fatalf("list: %v %v", err, topics)
	}
	if _, err := client.Publish(ctx, name, events(t, 3, "counted")...); err != nil {
		t.Fatal(err)
	}
	if stats, err := client.TopicStats(ctx, name); err != nil || stats.GetEventCount() != 3 || len(stats.GetPartitions()) != 3 {
		t.Fatalf("stats: %v %v", err, stats)
	}
	if _, err := client.CreateSubscription(ctx, unique("user"), name, cebus.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.DeleteTopic(ctx, name, false); cebus.CodeOf(err) != cebus.CodeFailedPrecondition {
		t.Fatalf("deleting a topic in use: %v", err)
	}
	if err := client.DeleteTopic(ctx, name, true); err != nil {
		t.Fatalf("deleting it with force: %v", err)
	}
	if _, err := client.GetTopic(ctx, name); cebus.CodeOf(err) != cebus.CodeNotFound {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestSubscriptionsAreCreatedReadListedCountedSoughtAndDeleted(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	published, err := client.Publish(ctx, topic, events(t, 4, "seek")...)
	if err != nil {
		t.Fatal(err)
	}
	name, dead := unique("admin-sub"), unique("admin-dead")
	if _, err := client.CreateTopic(ctx, dead, cebus.TopicOptions{}); err != nil {
		t.Fatal(err)
	}
	filter := &cebus.Filter{Filter: &cebusv1.Filter_Prefix{Prefix: &cebusv1.AttributeMatch{Attributes: map[string]string{"type": "order."}}}}
	options := cebus.SubscriptionOptions{
		Ordered: true, AckDeadline: 10 * time.Second, MaxDeliveryAttempts: 5, DeadLetterTopic: dead, Filter: filter,
		StartAt: cebus.Earliest(), Retry: &cebus.RetryOptions{MinBackoff: time.Second, MaxBackoff: time.Minute, Multiplier: 3},
	}
	if _, err := client.CreateSubscription(ctx, name, topic, options); err != nil {
		t.Fatal(err)
	}
	got, err := client.GetSubscription(ctx, name)
	if err != nil || !got.GetOrdered() || got.GetAckDeadline().AsDuration() != 10*time.Second || got.GetMaxDeliveryAttempts() != 5 ||
		got.GetRetryPolicy().GetMultiplier() != 3 || got.GetFilter().GetPrefix() == nil {
		t.Fatalf("get: %v %v", err, got)
	}
	subs, err := client.ListSubscriptions(ctx, topic)
	if err != nil || !slices.ContainsFunc(subs, func(s *cebus.SubscriptionConfig) bool { return s.GetName() == name }) {
		t.Fatalf("list: %v %v", err, subs)
	}
	backlogAfter := func(to *cebus.Position) int64 {
		t.Helper()
		if err := client.Seek(ctx, name, to); err != nil {
			t.Fatal(err)
		}
		backlog, _ := stats(t, ctx, client, name)
		return backlog
	}
	third := published[2]
	atThird := cebus.AtOffsets(cebus.PartitionOffset{Partition: third.Partition, Offset: third.Offset})
	if got := []int64{backlogAfter(cebus.Latest()), backlogAfter(cebus.Earliest()), backlogAfter(cebus.AtTime(time.Now().Add(time.Hour)))}; !slices.Equal(got, []int64{0, 4, 0}) {
		t.Fatalf("backlogs after seeking latest, earliest, an hour ahead: %v", got)
	}
	// From the third event on in its partition, and all of the other partition (not named: from the earliest).
	want := int64(0)
	for _, r := range published {
		if r.Partition != third.Partition || r.Offset >= third.Offset {
			want++
		}
	}
	if backlog := backlogAfter(atThird); backlog != want {
		t.Fatalf("backlog after seeking to the third event's offset: %d, want %d", backlog, want)
	}
	if err := client.DeleteSubscription(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetSubscription(ctx, name); cebus.CodeOf(err) != cebus.CodeNotFound {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestDeadLettersAreListedAndRedrivenToTheirSubscription(t *testing.T) {
	b := startBroker(t, "memory")
	client, topic, _, ctx := setup(t, b, cebus.SubscriptionOptions{})
	dead, sub := unique("dead"), unique("with-dead-letters")
	if _, err := client.CreateTopic(ctx, dead, cebus.TopicOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateSubscription(ctx, sub, topic, cebus.SubscriptionOptions{DeadLetterTopic: dead, StartAt: cebus.Earliest()}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Publish(ctx, topic, event(t, "poison", cebus.WithID("poison"))); err != nil {
		t.Fatal(err)
	}
	s := client.Consume(ctx, sub)
	defer s.Close()
	if err := take(t, ctx, s, 1)[0].Term(ctx, "cannot parse"); err != nil {
		t.Fatal(err)
	}
	letters, err := client.ListDeadLetters(ctx, sub, 10)
	if err != nil || len(letters) != 1 || letters[0].GetEvent().GetId() != "poison" || letters[0].GetReason() != "cannot parse" {
		t.Fatalf("dead letters: %v %v", err, letters)
	}
	if n, err := client.RedriveDeadLetters(ctx, sub, "poison"); err != nil || n != 1 {
		t.Fatalf("redrive: %v %d", err, n)
	}
	again := take(t, ctx, s, 1)[0]
	if again.ID() != "poison" || again.Attempt != 1 {
		t.Fatalf("redriven: %s attempt %d", again.ID(), again.Attempt)
	}
}
