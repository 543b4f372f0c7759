package cebus

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
)

// consumeStream is one Consume stream of a subscription: deliveries come in on it, settles go out on it and are
// confirmed on it. One writer goroutine sends the settles in order; acks given while an earlier settle is being
// sent gather into one Settle. A clean close half-closes the stream: the broker applies the settles it got,
// releases every event this consumer holds unsettled and ends the stream.
type consumeStream struct {
	sub    *Subscription
	bidi   *connect.BidiStreamForClient[cebusv1.ConsumeRequest, cebusv1.ConsumeResponse]
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // a token when the writer has something to do
	done   chan struct{} // closed when the stream has ended and every settle has its outcome

	mu      sync.Mutex
	queue   []*settleRequest          // settles not sent yet, in order
	pending map[uint64]*settleRequest // settles sent, awaiting their SettleResult
	nextID  uint64
	closing bool // a clean close was asked: settles are refused, the writer half-closes once the queue is sent
	ended   bool // the stream is over: settles are refused
}

func newConsumeStream(sub *Subscription, parent context.Context) *consumeStream {
	ctx, cancel := context.WithCancel(parent)
	return &consumeStream{
		sub: sub, bidi: sub.client.subscriber.Consume(ctx), ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}), pending: map[uint64]*settleRequest{}, nextID: 1,
	}
}

func (cs *consumeStream) url() string { return cs.sub.client.url }

// run opens the stream and reads it until it ends: nil when the broker ended it, else why it broke. connected is
// called when the broker has started the consumer.
func (cs *consumeStream) run(connected func()) error {
	defer close(cs.done)
	writerDone := make(chan struct{})
	start := &cebusv1.ConsumeRequest{Request: &cebusv1.ConsumeRequest_Start{Start: &cebusv1.ConsumeStart{
		Subscription: cs.sub.name, Flow: cs.sub.config.flow(), ConsumerName: cs.sub.config.consumerName,
	}}}
	if err := cs.bidi.Send(start); err != nil && !errors.Is(err, io.EOF) {
		close(writerDone)
		cs.finish(writerDone)
		return toError(err, cs.url())
	}
	go cs.write(writerDone)
	err := cs.read(connected)
	cs.finish(writerDone)
	return err
}

func (cs *consumeStream) read(connected func()) error {
	for {
		response, err := cs.bidi.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return toError(err, cs.url())
		}
		switch r := response.GetResponse().(type) {
		case *cebusv1.ConsumeResponse_Started:
			connected()
		case *cebusv1.ConsumeResponse_Deliveries:
			for _, d := range r.Deliveries.GetDeliveries() {
				cs.sub.deliver(newMessage(d, cs))
			}
		case *cebusv1.ConsumeResponse_Settled:
			cs.confirm(r.Settled)
		}
	}
}

// finish ends the stream: settles awaiting their confirmation fail with unavailable (their outcome is unknown),
// settles not sent yet with failed_precondition (they were not applied).
func (cs *consumeStream) finish(writerDone <-chan struct{}) {
	cs.mu.Lock()
	cs.ended = true
	pending, queued := cs.pending, cs.queue
	cs.pending, cs.queue = nil, nil
	cs.mu.Unlock()
	cs.cancel()
	<-writerDone
	_ = cs.bidi.CloseResponse()
	unknown := &Error{Code: CodeUnavailable, Message: "the stream to the broker ended before the broker confirmed this settle, so it may or may not have been applied; if not, the event is redelivered once its lease expires"}
	for _, request := range pending {
		request.fail(unknown)
	}
	for _, request := range queued {
		request.fail(streamGone(false))
	}
}

// streamGone is the error of a settle asked after the message's stream ended or began to close.
func streamGone(closing bool) error {
	if closing {
		return &Error{Code: CodeFailedPrecondition, Message: "the subscription is closing, so this message can no longer be settled; the broker releases it for redelivery at once"}
	}
	return &Error{Code: CodeFailedPrecondition, Message: "the stream this message came on has ended, so it can no longer be settled; the broker redelivers the event once its lease expires"}
}

// maxAcksPerSettle bounds one ack Settle (the broker applies up to 5000 delivery ids in one store call).
const maxAcksPerSettle = 5000

// settle queues a settle of one delivery for the writer and returns where its confirmation comes. An ack joins
// the ack Settle at the end of the queue, when there is one: the acks that come while the writer sends go together.
func (cs *consumeStream) settle(deliveryID string, request settleRequest) (<-chan error, error) {
	done := make(chan error, 1)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.ended || cs.closing {
		return nil, streamGone(cs.closing && !cs.ended)
	}
	waiter := settleWaiter{deliveryID: deliveryID, done: done}
	if n := len(cs.queue); request.kind == settleAck && n > 0 {
		if last := cs.queue[n-1]; last.kind == settleAck && len(last.waiters) < maxAcksPerSettle {
			last.waiters = append(last.waiters, waiter)
			return done, nil
		}
	}
	request.waiters = []settleWaiter{waiter}
	cs.queue = append(cs.queue, &request)
	cs.notify()
	return done, nil
}

func (cs *consumeStream) notify() {
	select {
	case cs.wake <- struct{}{}:
	default:
	}
}

// write sends the queued settles in order, then half-closes the stream once a clean close was asked.
func (cs *consumeStream) write(done chan<- struct{}) {
	defer close(done)
	for {
		request, id, halfClose, over := cs.next()
		switch {
		case over:
			return
		case halfClose:
			_ = cs.bidi.CloseRequest()
			return
		case request == nil:
			select {
			case <-cs.wake:
			case <-cs.ctx.Done():
				return
			}
		default:
			if err := cs.bidi.Send(request.message(id)); err != nil {
				if !errors.Is(err, io.EOF) {
					cs.cancel() // the reader sees the stream end and fails what is pending
				}
				return
			}
		}
	}
}

// next takes the next settle to send and registers it as pending, or says to half-close, wait or stop.
func (cs *consumeStream) next() (request *settleRequest, id uint64, halfClose, over bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case cs.ended:
		return nil, 0, false, true
	case len(cs.queue) > 0:
		request, cs.queue = cs.queue[0], cs.queue[1:]
		id = cs.nextID
		cs.nextID++
		cs.pending[id] = request
		return request, id, false, false
	case cs.closing:
		return nil, 0, true, false
	}
	return nil, 0, false, false
}

// confirm hands a SettleResult to the settles it answers: each delivery without a failure was settled.
func (cs *consumeStream) confirm(result *cebusv1.SettleResult) {
	cs.mu.Lock()
	request := cs.pending[result.GetRequestId()]
	delete(cs.pending, result.GetRequestId())
	cs.mu.Unlock()
	if request == nil {
		return
	}
	failures := map[string]*cebusv1.SettleFailure{}
	for _, f := range result.GetFailures() {
		failures[f.GetDeliveryId()] = f
	}
	for _, w := range request.waiters {
		if f := failures[w.deliveryID]; f != nil {
			w.done <- &Error{Code: parseCode(f.GetCode()), Message: f.GetMessage()}
		} else {
			w.done <- nil
		}
	}
}

// close closes the stream cleanly: the settles already given are sent, then the stream is half-closed and the
// broker releases what this consumer holds. If the broker has not ended the stream within 3 s, it is cancelled.
func (cs *consumeStream) close() {
	cs.mu.Lock()
	cs.closing = true
	cs.notify()
	cs.mu.Unlock()
	timer := time.AfterFunc(closeGrace, cs.cancel)
	<-cs.done
	timer.Stop()
}
