package cebus

import (
	"context"
	"errors"
)

// Handler processes one message. Returning nil acks it and an error nacks it, unless the handler settled it itself.
type Handler func(ctx context.Context, m *Message) error

// Subscribe consumes subscription with handler, one message at a time, until ctx is done (then it returns nil)
// or the subscription fails for good (CodeNotFound, CodePermissionDenied, ...).
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
		// A failed settle needs nothing here: the lease runs out and the broker redelivers.
		if herr := handler(ctx, m); herr != nil {
			_ = m.Nack(ctx, 0)
		} else {
			_ = m.Ack(ctx)
		}
	}
}
