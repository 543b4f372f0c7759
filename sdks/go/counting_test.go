package cebus_test

import (
	"context"
	"sync"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

// counter is a Connect interceptor (cebus.WithInterceptors) that records what the client puts on the wire: unary
// calls by procedure, the events of each PublishStream request and the delivery ids of each ack Settle. gate, when
// set, holds the first ack Settle in Send until it is closed (entered is closed once it is held), so a test can
// give acks while a settle is being sent.
type counter struct {
	mu           sync.Mutex
	unary        map[string]int
	streamEvents []int // events per PublishStream request
	ackSettles   []int // delivery ids per ack Settle
	gate         chan struct{}
	entered      chan struct{}
}

func newCounter() *counter { return &counter{unary: map[string]int{}} }

func (c *counter) batches() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.streamEvents...)
}

func (c *counter) acks() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.ackSettles...)
}

func (c *counter) unaryCalls(procedure string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unary[procedure]
}

func (c *counter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		c.mu.Lock()
		c.unary[req.Spec().Procedure]++
		c.mu.Unlock()
		return next(ctx, req)
	}
}

func (c *counter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return &countingConn{StreamingClientConn: next(ctx, spec), counter: c}
	}
}

func (c *counter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

type countingConn struct {
	connect.StreamingClientConn
	counter *counter
}

func (cc *countingConn) Send(msg any) error {
	c := cc.counter
	var hold chan struct{}
	c.mu.Lock()
	switch m := msg.(type) {
	case *cebusv1.PublishStreamRequest:
		c.streamEvents = append(c.streamEvents, len(m.GetEvents()))
	case *cebusv1.ConsumeRequest:
		if ack := m.GetSettle().GetAck(); ack != nil {
			c.ackSettles = append(c.ackSettles, len(ack.GetDeliveryIds()))
			if len(c.ackSettles) == 1 && c.gate != nil {
				hold = c.gate
			}
		}
	}
	c.mu.Unlock()
	if hold != nil {
		close(c.entered)
		<-hold
	}
	return cc.StreamingClientConn.Send(msg)
}
