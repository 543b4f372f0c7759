package cebus

import (
	"context"
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Topic and SubscriptionConfig are the broker's own types; set any field before creating.
type (
	Topic              = cebusv1.Topic
	SubscriptionConfig = cebusv1.Subscription
)

// TopicOption sets a topic setting in CreateTopic.
type TopicOption func(*Topic)

// WithPartitions sets the number of partitions (default 1).
func WithPartitions(n uint32) TopicOption { return func(t *Topic) { t.Partitions = n } }

// WithDedupeWindow sets how long a (source, id) is remembered for publish dedupe.
func WithDedupeWindow(d time.Duration) TopicOption {
	return func(t *Topic) { t.DedupeWindow = durationpb.New(d) }
}

// CreateTopic creates a topic; with ifNotExists an existing topic with the same settings is returned instead of
// an error with CodeAlreadyExists.
func (c *Client) CreateTopic(ctx context.Context, name string, ifNotExists bool, options ...TopicOption) (*Topic, error) {
	topic := &Topic{Name: name}
	for _, option := range options {
		option(topic)
	}
	response, err := c.admin.CreateTopic(ctx, connect.NewRequest(&cebusv1.CreateTopicRequest{Topic: topic, IfNotExists: ifNotExists}))
	if err != nil {
		return nil, toError(err, c.url)
	}
	return response.Msg.GetTopic(), nil
}

// SubscriptionOption sets a subscription setting in CreateSubscription.
type SubscriptionOption func(*SubscriptionConfig)

// FromEarliest starts the subscription at the oldest retained event (the default is the latest).
func FromEarliest() SubscriptionOption {
	return func(s *SubscriptionConfig) {
		s.StartPosition = &cebusv1.Position{Position: &cebusv1.Position_Earliest{Earliest: &emptypb.Empty{}}}
	}
}

// Ordered delivers events of one partition key one at a time, in publish order.
func Ordered() SubscriptionOption { return func(s *SubscriptionConfig) { s.Ordered = true } }

// WithAckDeadline sets how long a delivery is leased before it is redelivered.
func WithAckDeadline(d time.Duration) SubscriptionOption {
	return func(s *SubscriptionConfig) { s.AckDeadline = durationpb.New(d) }
}

// WithDeadLetter dead-letters an event to topic after maxAttempts deliveries.
func WithDeadLetter(topic string, maxAttempts uint32) SubscriptionOption {
	return func(s *SubscriptionConfig) { s.DeadLetterTopic, s.MaxDeliveryAttempts = topic, maxAttempts }
}

// CreateSubscription creates a durable subscription to topic (see CreateTopic for ifNotExists).
func (c *Client) CreateSubscription(ctx context.Context, name, topic string, ifNotExists bool, options ...SubscriptionOption) (*SubscriptionConfig, error) {
	sub := &SubscriptionConfig{Name: name, Topic: topic}
	for _, option := range options {
		option(sub)
	}
	response, err := c.admin.CreateSubscription(ctx, connect.NewRequest(&cebusv1.CreateSubscriptionRequest{Subscription: sub, IfNotExists: ifNotExists}))
	if err != nil {
		return nil, toError(err, c.url)
	}
	return response.Msg.GetSubscription(), nil
}
