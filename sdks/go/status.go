package cebus

import (
	"context"
	"time"
)

// StatusKind is what happened to a subscription's connection.
type StatusKind string

// The kinds of Status, in the order a subscription goes through them.
const (
	// StatusConnected: a Consume stream is open; messages flow.
	StatusConnected StatusKind = "connected"
	// StatusDisconnected: the stream broke (Err says why) or the broker ended it (Err is nil; it is draining).
	StatusDisconnected StatusKind = "disconnected"
	// StatusReconnecting: a new stream opens after Delay; Attempt counts the tries since the last open stream.
	StatusReconnecting StatusKind = "reconnecting"
	// StatusError: a permanent error (Err) ended the subscription; it is the last status.
	StatusError StatusKind = "error"
	// StatusSequence: with WithSequenceCheck, a first delivery of a key that repeats (Anomaly SequenceRepeat) or
	// goes below (SequenceOutOfOrder) an offset of that key received before (Previous).
	StatusSequence StatusKind = "sequence"
)

// Status is a change in a subscription's connection, given to the WithStatusHandler handler.
type Status struct {
	Kind    StatusKind
	Err     error         // why it disconnected or failed, when known
	Delay   time.Duration // for StatusReconnecting: the wait before the next stream
	Attempt int           // for StatusReconnecting: 1 for the first try after a stream was lost

	// For StatusSequence: the anomaly, and the delivery's partition, key and offset, and the key's highest
	// offset received before.
	Anomaly   string
	Partition uint32
	Key       string
	Offset    int64
	Previous  int64
}

// WithStatusHandler calls handler with every status change of the subscription, in order and never dropped. The
// calls come one at a time from a goroutine of the subscription's own, so a slow handler delays only the statuses
// after it, never the messages. Statuses queued when the subscription ends are still handed over after Close.
func WithStatusHandler(handler func(Status)) SubscribeOption {
	return func(c *subscribeConfig) { c.statusHandler = handler }
}

// statusReporter hands statuses to the handler in order: an unbounded queue drained by one goroutine.
type statusReporter struct {
	statuses *queue[Status]
}

func newStatusReporter(handler func(Status)) *statusReporter {
	if handler == nil {
		return &statusReporter{}
	}
	r := &statusReporter{statuses: newQueue[Status]()}
	go func() {
		for {
			status, done, _ := r.statuses.pop(context.Background())
			if done {
				return
			}
			handler(status)
		}
	}()
	return r
}

func (r *statusReporter) report(status Status) {
	if r.statuses != nil {
		r.statuses.push(status)
	}
}

// end lets the handler finish the statuses queued so far; nothing more is reported.
func (r *statusReporter) end() {
	if r.statuses != nil {
		r.statuses.end(nil, false)
	}
}
