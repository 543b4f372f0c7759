package cebus

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

// BatchingOptions sets how single-event publishes are gathered into batches per topic (like a Kafka producer's
// linger.ms and batch.size). Zero fields take the defaults in brackets.
type BatchingOptions struct {
	// Linger is how long a batch waits for more events after its first one [0: it goes as soon as a send slot is
	// free]. While every slot is busy, events gather into the next batch anyway.
	Linger time.Duration
	// MaxEvents is the most events in one batch [500].
	MaxEvents int
	// MaxBytes is the most bytes in one batch, by the events' encoded size [1 MiB].
	MaxBytes int
	// MaxInFlight is the most batches of one topic on their way at once [2].
	MaxInFlight int
}

func (o BatchingOptions) withDefaults() BatchingOptions {
	if o.MaxEvents == 0 {
		o.MaxEvents = 500
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 20
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 2
	}
	return o
}

// pendingPublish is one caller's event waiting in a batch, and where its outcome goes.
type pendingPublish struct {
	event *Event
	done  chan publishOutcome // buffered: the batch never waits for the caller
}

type publishOutcome struct {
	result PublishResult
	err    error
}

// batcher gathers the single publishes of one topic into batches: a batch goes when a send slot is free (or, with
// a linger, when it has waited that long), or when it is full; at most MaxInFlight batches are on their way at once.
type batcher struct {
	options BatchingOptions
	send    func(events []*Event) ([]PublishResult, error)

	mu        sync.Mutex
	open      []*pendingPublish // the batch still taking events
	openBytes int
	timer     *time.Timer // the open batch's linger
	lingered  bool        // the open batch waited its linger and goes as soon as a slot frees
	inFlight  int
	ready     [][]*pendingPublish // full or lingered batches waiting for a slot
	closing   bool                // the client is closing: an event that still comes goes at once
	changed   *sync.Cond          // broadcast when a batch leaves or returns (for Close)
}

func newBatcher(options BatchingOptions, send func(events []*Event) ([]PublishResult, error)) *batcher {
	b := &batcher{options: options, send: send}
	b.changed = sync.NewCond(&b.mu)
	return b
}

// publish adds event to the open batch and waits for its own result. The event is checked first, so a malformed
// one fails alone instead of failing the batch it would have joined.
func (b *batcher) publish(ctx context.Context, event *Event) (PublishResult, error) {
	if err := validateEvent(event, "event"); err != nil {
		return PublishResult{}, err
	}
	p := &pendingPublish{event: event, done: make(chan publishOutcome, 1)}
	b.add(p)
	select {
	case outcome := <-p.done:
		return outcome.result, outcome.err
	case <-ctx.Done():
		if b.withdraw(p) {
			return PublishResult{}, toError(ctx.Err(), "")
		}
		return PublishResult{}, &Error{Code: CodeOf(toError(ctx.Err(), "")), Message: "the publish was given up by its context after it was sent, so it may or may not be stored: publish the event again (it keeps its id, and the broker's dedupe makes that safe)", cause: ctx.Err()}
	}
}

func (b *batcher) add(p *pendingPublish) {
	size := proto.Size(p.event)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.open) > 0 && b.openBytes+size > b.options.MaxBytes {
		b.seal()
	}
	b.open = append(b.open, p)
	b.openBytes += size
	switch {
	case len(b.open) >= b.options.MaxEvents || b.closing:
		b.seal()
	case b.options.Linger == 0:
		if b.inFlight < b.options.MaxInFlight {
			b.seal()
		}
	case b.timer == nil && !b.lingered:
		b.timer = time.AfterFunc(b.options.Linger, b.onLinger)
	}
}

// withdraw takes p out of its batch if that batch has not left yet (nothing of p was sent).
func (b *batcher) withdraw(p *pendingPublish) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.open, p); i >= 0 {
		b.open = slices.Delete(b.open, i, i+1)
		b.openBytes -= proto.Size(p.event)
		b.changed.Broadcast()
		return true
	}
	for n, batch := range b.ready {
		if i := slices.Index(batch, p); i >= 0 {
			if b.ready[n] = slices.Delete(batch, i, i+1); len(b.ready[n]) == 0 {
				b.ready = slices.Delete(b.ready, n, n+1)
				b.changed.Broadcast()
			}
			return true
		}
	}
	return false
}

// seal closes the open batch: it joins the ready ones, which go while slots are free. Called with mu held.
func (b *batcher) seal() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.lingered = false
	if len(b.open) > 0 {
		b.ready = append(b.ready, b.open)
		b.open, b.openBytes = nil, 0
	}
	for b.inFlight < b.options.MaxInFlight && len(b.ready) > 0 {
		batch := b.ready[0]
		b.ready = b.ready[1:]
		b.inFlight++
		go b.run(batch)
	}
	b.changed.Broadcast()
}

// onLinger: while every slot is busy a lingered batch keeps growing instead of queueing as a small one.
func (b *batcher) onLinger() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timer = nil
	if b.inFlight < b.options.MaxInFlight {
		b.seal()
	} else {
		b.lingered = true
	}
}

// run sends one batch and gives every caller its own outcome, then frees the slot.
func (b *batcher) run(batch []*pendingPublish) {
	b.deliver(batch)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight--
	if len(b.ready) > 0 || (len(b.open) > 0 && (b.options.Linger == 0 || b.lingered)) {
		b.seal()
	}
	b.changed.Broadcast()
}

// eventAtFault matches a broker error's field that names one event of the batch, e.g. "events[3].type".
var eventAtFault = regexp.MustCompile(`^events\[(\d+)\]`)

// deliver sends batch. When the broker refuses it for one event (one the client cannot check, such as one over
// the topic's size limit), that event's caller gets the error and the others are sent again without it, so a bad
// event never fails the batch it joined; nothing of a refused batch was stored.
func (b *batcher) deliver(batch []*pendingPublish) {
	for len(batch) > 0 {
		events := make([]*Event, len(batch))
		for i, p := range batch {
			events[i] = p.event
		}
		results, err := b.send(events)
		if err == nil && len(results) != len(batch) {
			err = &Error{Code: CodeInternal, Message: "the broker answered a batch of " + strconv.Itoa(len(batch)) + " events with " + strconv.Itoa(len(results)) + " results; report this as a Cebus bug"}
		}
		if err == nil {
			for i, p := range batch {
				p.done <- publishOutcome{result: results[i]}
			}
			return
		}
		bad := offendingEvent(err, len(batch))
		if bad < 0 || len(batch) == 1 {
			for _, p := range batch {
				p.done <- publishOutcome{err: err}
			}
			return
		}
		batch[bad].done <- publishOutcome{err: err}
		batch = slices.Delete(slices.Clone(batch), bad, bad+1)
	}
}

// offendingEvent is the index of the event an invalid_argument error blames, or -1.
func offendingEvent(err error, size int) int {
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Code != CodeInvalidArgument {
		return -1
	}
	match := eventAtFault.FindStringSubmatch(e.Field)
	if match == nil {
		return -1
	}
	i, convErr := strconv.Atoi(match[1])
	if convErr != nil || i >= size {
		return -1
	}
	return i
}

// dispatched sends the open batch now, and any event that still comes at once (Close has begun), and waits until
// every batch has left.
func (b *batcher) dispatched() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closing = true
	b.seal()
	for len(b.open) > 0 || len(b.ready) > 0 {
		b.changed.Wait()
	}
}

// answered waits until every event given to the batcher has its outcome.
func (b *batcher) answered() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.open) > 0 || len(b.ready) > 0 || b.inFlight > 0 {
		b.changed.Wait()
	}
}
