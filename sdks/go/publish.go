package cebus

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

// PublishResult says where an event was stored; Duplicate means an earlier publish of the same (source, id) won
// (Partition and Offset are then the original's).
type PublishResult struct {
	ID        string
	Partition uint32
	Offset    int64
	Duplicate bool
}

// Publish stores events in topic and returns when the broker has made them durable, one result per event, in
// order. Several events are one batch, all or nothing. A single event joins the topic's next batch (see
// WithBatching): events published close together, from many goroutines, travel together, and each caller gets its
// own result; a malformed event fails alone. An event without an id gets a random UUID (set on the event, so a
// publish that failed with an unknown outcome, CodeUnavailable or CodeDeadlineExceeded, can be sent again as is:
// the broker's dedupe makes that safe).
//
// Publishes travel on one long-lived PublishStream. A ctx with a deadline makes the call a unary Publish bounded by
// it, without batching or backpressure retries; without one, a publish the broker refuses for load is retried
// after its retry hint (see WithBackpressureRetry).
func (c *Client) Publish(ctx context.Context, topic string, events ...*Event) ([]PublishResult, error) {
	if err := c.checkPublish(ctx, topic, events); err != nil {
		return nil, err
	}
	for _, e := range events {
		if e.GetId() == "" {
			e.Id = newID()
		}
	}
	_, hasDeadline := ctx.Deadline()
	if hasDeadline {
		return c.unary(ctx, topic, events)
	}
	if len(events) == 1 && c.batching != nil {
		result, err := c.batcherOf(topic).publish(ctx, events[0])
		if err != nil {
			return nil, err
		}
		return []PublishResult{result}, nil
	}
	return c.send(ctx, topic, events)
}

// checkPublish refuses a publish that cannot go: a closed client, a done ctx, no events or no topic.
func (c *Client) checkPublish(ctx context.Context, topic string, events []*Event) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return errClientClosed()
	}
	if err := ctx.Err(); err != nil {
		return toError(err, c.url)
	}
	if len(events) == 0 {
		return &Error{Code: CodeInvalidArgument, Field: "events", Message: "Publish got no events; give one or more"}
	}
	for i, e := range events {
		if e == nil {
			field := fmt.Sprintf("events[%d]", i)
			return &Error{Code: CodeInvalidArgument, Field: field, Message: field + " is nil; give an event made with NewEvent"}
		}
	}
	if topic == "" {
		return &Error{Code: CodeInvalidArgument, Field: "topic", Message: "topic is empty; give the name of the topic to publish to"}
	}
	return nil
}

// send publishes one batch on the stream, retrying while the broker refuses it for load.
func (c *Client) send(ctx context.Context, topic string, events []*Event) ([]PublishResult, error) {
	return retryWhileExhausted(ctx, c.backpressure, func() ([]PublishResult, error) {
		return c.stream.send(ctx, topic, events)
	})
}

// unary publishes one batch with the unary Publish RPC (a call with its own deadline, or a broker without
// PublishStream).
func (c *Client) unary(ctx context.Context, topic string, events []*Event) ([]PublishResult, error) {
	response, err := c.publisher.Publish(ctx, connect.NewRequest(&cebusv1.PublishRequest{Topic: topic, Events: events}))
	if err != nil {
		return nil, toError(err, c.url)
	}
	return publishResults(events, response.Msg.GetResults()), nil
}

func publishResults(events []*Event, results []*cebusv1.PublishResult) []PublishResult {
	out := make([]PublishResult, len(results))
	for i, r := range results {
		out[i] = PublishResult{Partition: r.GetPartition(), Offset: r.GetOffset(), Duplicate: r.GetDuplicate()}
		if i < len(events) {
			out[i].ID = events[i].GetId()
		}
	}
	return out
}

// batcherOf returns the batcher of topic, made on its first publish.
func (c *Client) batcherOf(topic string) *batcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.batchers[topic]
	if b == nil {
		b = newBatcher(*c.batching, func(events []*Event) ([]PublishResult, error) {
			return c.send(c.ctx, topic, events)
		})
		c.batchers[topic] = b
	}
	return b
}
