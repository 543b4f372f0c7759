package cebus

import (
	"context"
	"errors"
)

// Handler processes one message. Returning nil acks it and an error nacks it, unless the handler settled it itself.
type Handler func(ctx context.Context, m *Message) error

// Subscribe consumes subscription with handler, one message at a time, until ctx is done (then it closes the
// subscription cleanly and returns nil) or the subscription fails for good (CodeNotFound, CodePermissionDenied,
// ...). The ack or nack after the handler goes on without waiting for its confirmation, so the next message is
// handled meanwhile; a settle the broker refuses needs nothing here: the event comes back once its lease expires.
func (c *Client) Subscribe(ctx context.Context, subscription string, handler Handler, options ...SubscribeOption) error {
	sub := c.Consume(ctx, subscription, options...)
	defer sub.Close()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return nil
			}
			return err
		}
		if herr := handler(ctx, m); herr != nil {
			_, _ = m.start("nacked", settleRequest{kind: settleNack})
		} else {
			_, _ = m.start("acked", settleRequest{kind: settleAck})
		}
	}
}
