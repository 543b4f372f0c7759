package cebus

import (
	"context"
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The broker's own admin types, as the typed admin methods return them.
type (
	Topic              = cebusv1.Topic
	TopicStats         = cebusv1.TopicStats
	SubscriptionConfig = cebusv1.Subscription
	SubscriptionStats  = cebusv1.SubscriptionStats
	DeadLetter         = cebusv1.DeadLetter
	Filter             = cebusv1.Filter
	Position           = cebusv1.Position
)

// TopicOptions are the settings of a new topic; zero fields take the broker's defaults (in brackets).
type TopicOptions struct {
	Partitions     uint32        // [1]; partition = hash(partitionkey) mod partitions, keyless events round-robin
	Retention      time.Duration // events older than this may be removed [7 days]
	RetentionBytes int64         // per-partition size cap; the oldest events go first [no cap]
	DedupeWindow   time.Duration // a (source, id) published again inside this window is a duplicate [2 minutes]
	MaxEventBytes  int64         // largest accepted event, encoded as Protobuf [1 MiB]
	// IfNotExists returns an existing topic with the same settings instead of an error with CodeAlreadyExists.
	IfNotExists bool
}

// CreateTopic creates a topic.
func (c *Client) CreateTopic(ctx context.Context, name string, options TopicOptions) (*Topic, error) {
	topic := &Topic{
		Name: name, Partitions: options.Partitions, RetentionBytes: options.RetentionBytes,
		MaxEventBytes: options.MaxEventBytes, Retention: optionalDuration(options.Retention),
		DedupeWindow: optionalDuration(options.DedupeWindow),
	}
	request := &cebusv1.CreateTopicRequest{Topic: topic, IfNotExists: options.IfNotExists}
	response, err := call(ctx, c, c.admin.CreateTopic, request)
	return response.GetTopic(), err
}

// GetTopic returns a topic's settings (CodeNotFound when there is no such topic).
func (c *Client) GetTopic(ctx context.Context, name string) (*Topic, error) {
	response, err := call(ctx, c, c.admin.GetTopic, &cebusv1.GetTopicRequest{Name: name})
	return response.GetTopic(), err
}

// ListTopics returns every topic.
func (c *Client) ListTopics(ctx context.Context) ([]*Topic, error) {
	response, err := call(ctx, c, c.admin.ListTopics, &cebusv1.ListTopicsRequest{})
	return response.GetTopics(), err
}

// DeleteTopic deletes a topic and its events. It fails with CodeFailedPrecondition while subscriptions use the
// topic, unless force is set, which deletes them too.
func (c *Client) DeleteTopic(ctx context.Context, name string, force bool) error {
	_, err := call(ctx, c, c.admin.DeleteTopic, &cebusv1.DeleteTopicRequest{Name: name, Force: force})
	return err
}

// TopicStats returns a topic's event count, bytes and per-partition offsets.
func (c *Client) TopicStats(ctx context.Context, name string) (*TopicStats, error) {
	response, err := call(ctx, c, c.admin.GetTopicStats, &cebusv1.GetTopicStatsRequest{Name: name})
	return response.GetStats(), err
}

// call runs one unary admin RPC and turns its error into an *Error.
func call[Req, Res any](ctx context.Context, c *Client, rpc func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), request *Req) (*Res, error) {
	response, err := rpc(ctx, connect.NewRequest(request))
	if err != nil {
		return nil, toError(err, c.url)
	}
	return response.Msg, nil
}

func optionalDuration(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}
