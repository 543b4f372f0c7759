package cebus

import (
	"context"
	"time"

	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// DeliveryMode is a subscription's delivery guarantee.
type DeliveryMode = cebusv1.DeliveryMode

// The delivery modes.
const (
	// AtLeastOnce delivers every event until it is acked (or dead-lettered); nacks and expired leases redeliver.
	AtLeastOnce = cebusv1.DeliveryMode_DELIVERY_MODE_AT_LEAST_ONCE
	// AtMostOnce delivers every event at most once: it counts as acked when it is sent.
	AtMostOnce = cebusv1.DeliveryMode_DELIVERY_MODE_AT_MOST_ONCE
)

// SubscriptionOptions are the settings of a new subscription; zero fields take the broker's defaults (in brackets).
type SubscriptionOptions struct {
	// Ordered delivers the events of one partitionkey one at a time, in publish order [false].
	Ordered      bool
	DeliveryMode DeliveryMode  // [AtLeastOnce]
	AckDeadline  time.Duration // how long a delivery may stay unsettled before it is redelivered [30 s]
	// MaxDeliveryAttempts dead-letters an event after this many deliveries [0: unlimited].
	MaxDeliveryAttempts uint32
	DeadLetterTopic     string // receives events after MaxDeliveryAttempts or a term [none]
	// Filter delivers only matching events [all], in the dialects of the CloudEvents Subscriptions API, e.g.
	// &cebus.Filter{Filter: &cebusv1.Filter_Prefix{Prefix: &cebusv1.AttributeMatch{Attributes: map[string]string{"type": "order."}}}}.
	Filter  *Filter
	StartAt *Position     // where it starts: Earliest(), Latest(), AtTime(t), AtOffsets(...) [Latest()]
	Retry   *RetryOptions // the backoff between delivery attempts
	// IfNotExists returns an existing subscription with the same settings instead of an error with
	// CodeAlreadyExists.
	IfNotExists bool
}

// RetryOptions is the exponential backoff between delivery attempts, for nacks without a delay and expired
// leases; zero fields take the broker's defaults (in brackets).
type RetryOptions struct {
	MinBackoff time.Duration // [1 s]
	MaxBackoff time.Duration // [60 s]
	Multiplier float64       // [2]
	Jitter     float64       // fraction of the delay added or removed at random, 0..1 [0.1]
}

// PartitionOffset is an offset in one partition, for AtOffsets.
type PartitionOffset struct {
	Partition uint32
	Offset    int64
}

// Earliest is the oldest retained event.
func Earliest() *Position {
	return &Position{Position: &cebusv1.Position_Earliest{Earliest: &emptypb.Empty{}}}
}

// Latest is the events published from now on.
func Latest() *Position {
	return &Position{Position: &cebusv1.Position_Latest{Latest: &emptypb.Empty{}}}
}

// AtTime is the first event published at or after t.
func AtTime(t time.Time) *Position {
	return &Position{Position: &cebusv1.Position_Time{Time: timestamppb.New(t)}}
}

// AtOffsets is the given offsets; partitions not named start at the earliest retained event.
func AtOffsets(offsets ...PartitionOffset) *Position {
	list := make([]*cebusv1.PartitionOffset, len(offsets))
	for i, o := range offsets {
		list[i] = &cebusv1.PartitionOffset{Partition: o.Partition, Offset: o.Offset}
	}
	return &Position{Position: &cebusv1.Position_Offsets{Offsets: &cebusv1.PartitionOffsets{Offsets: list}}}
}

// CreateSubscription creates a durable subscription named name to topic.
func (c *Client) CreateSubscription(ctx context.Context, name, topic string, options SubscriptionOptions) (*SubscriptionConfig, error) {
	sub := &SubscriptionConfig{
		Name: name, Topic: topic, Ordered: options.Ordered, DeliveryMode: options.DeliveryMode,
		AckDeadline: optionalDuration(options.AckDeadline), MaxDeliveryAttempts: options.MaxDeliveryAttempts,
		DeadLetterTopic: options.DeadLetterTopic, Filter: options.Filter, StartPosition: options.StartAt,
	}
	if r := options.Retry; r != nil {
		sub.RetryPolicy = &cebusv1.RetryPolicy{
			MinimumBackoff: optionalDuration(r.MinBackoff), MaximumBackoff: optionalDuration(r.MaxBackoff),
			Multiplier: r.Multiplier, Jitter: r.Jitter,
		}
	}
	request := &cebusv1.CreateSubscriptionRequest{Subscription: sub, IfNotExists: options.IfNotExists}
	response, err := call(ctx, c, c.admin.CreateSubscription, request)
	return response.GetSubscription(), err
}

// GetSubscription returns a subscription's settings (CodeNotFound when there is no such subscription).
func (c *Client) GetSubscription(ctx context.Context, name string) (*SubscriptionConfig, error) {
	response, err := call(ctx, c, c.admin.GetSubscription, &cebusv1.GetSubscriptionRequest{Name: name})
	return response.GetSubscription(), err
}

// ListSubscriptions returns the subscriptions of topic, or every subscription when topic is "".
func (c *Client) ListSubscriptions(ctx context.Context, topic string) ([]*SubscriptionConfig, error) {
	response, err := call(ctx, c, c.admin.ListSubscriptions, &cebusv1.ListSubscriptionsRequest{Topic: topic})
	return response.GetSubscriptions(), err
}

// DeleteSubscription deletes a subscription and its cursor.
func (c *Client) DeleteSubscription(ctx context.Context, name string) error {
	_, err := call(ctx, c, c.admin.DeleteSubscription, &cebusv1.DeleteSubscriptionRequest{Name: name})
	return err
}

// SubscriptionStats returns a subscription's backlog, in-flight count, oldest unacked age and live consumers.
func (c *Client) SubscriptionStats(ctx context.Context, name string) (*SubscriptionStats, error) {
	response, err := call(ctx, c, c.admin.GetSubscriptionStats, &cebusv1.GetSubscriptionStatsRequest{Name: name})
	return response.GetStats(), err
}

// Seek moves a subscription's cursor to a position (Earliest(), Latest(), AtTime(t), AtOffsets(...)): events from
// there on are delivered (again), events before it count as acked, and deliveries in flight are dropped.
func (c *Client) Seek(ctx context.Context, subscription string, to *Position) error {
	_, err := call(ctx, c, c.admin.Seek, &cebusv1.SeekRequest{Subscription: subscription, Position: to})
	return err
}

// ListDeadLetters returns a subscription's dead-lettered events, oldest first, at most limit of them [0: 100].
func (c *Client) ListDeadLetters(ctx context.Context, subscription string, limit uint32) ([]*DeadLetter, error) {
	request := &cebusv1.ListDeadLettersRequest{Subscription: subscription, Limit: limit}
	response, err := call(ctx, c, c.admin.ListDeadLetters, request)
	return response.GetDeadLetters(), err
}

// RedriveDeadLetters delivers dead letters again to their original subscription only (not to the topic's other
// subscriptions), with attempts counted from 1 again: those with eventIDs, or all of them when none are given. It
// returns how many were redriven.
func (c *Client) RedriveDeadLetters(ctx context.Context, subscription string, eventIDs ...string) (uint32, error) {
	request := &cebusv1.RedriveDeadLettersRequest{Subscription: subscription, EventIds: eventIDs}
	response, err := call(ctx, c, c.admin.RedriveDeadLetters, request)
	return response.GetRedriven(), err
}
