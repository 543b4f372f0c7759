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

// streamPublisher publishes over the PublishStream RPC: one long-lived stream carries every batch of the client,
// answered by request id, which saves the per-call cost of a unary Publish on both sides. The stream opens on the
// first publish, and again after it broke. A broker without PublishStream answers `unimplemented`; then the unary
// Publish carries the batches in flight and every later one, for the rest of the client's life.
type streamPublisher struct {
	client *Client

	mu      sync.Mutex
	current *publishStream // nil until the next publish opens one
	nextID  uint64
	unary   bool // the broker has no PublishStream
	closed  bool
	sending sync.WaitGroup // batches registered and not yet sent: close half-closes after them
}

// publishStream is one open PublishStream: the batches it carries that await their answer.
type publishStream struct {
	bidi    *connect.BidiStreamForClient[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]
	cancel  context.CancelFunc
	sendMu  sync.Mutex                // Send is not safe for concurrent use
	pending map[uint64]*publishWaiter // guarded by streamPublisher.mu; nil once the stream ended
	done    chan struct{}             // closed when the stream has ended and every waiter has its answer
}

type publishWaiter struct {
	ctx    context.Context
	topic  string
	events []*Event
	answer chan publishAnswer // buffered: the reader never waits for the caller
}

type publishAnswer struct {
	results []PublishResult
	err     error
}

func newStreamPublisher(c *Client) *streamPublisher {
	return &streamPublisher{client: c, nextID: 1}
}

// send publishes one batch on the stream and waits for its answer (or for ctx).
func (p *streamPublisher) send(ctx context.Context, topic string, events []*Event) ([]PublishResult, error) {
	w := &publishWaiter{ctx: ctx, topic: topic, events: events, answer: make(chan publishAnswer, 1)}
	stream, id := p.register(w)
	if stream == nil {
		return p.client.unary(ctx, topic, events)
	}
	stream.sendMu.Lock()
	err := stream.bidi.Send(&cebusv1.PublishStreamRequest{RequestId: id, Topic: topic, Events: events})
	stream.sendMu.Unlock()
	p.sending.Done()
	if err != nil && !errors.Is(err, io.EOF) {
		stream.cancel() // the reader fails every waiter, this one included
	}
	select {
	case a := <-w.answer:
		return a.results, a.err
	case <-ctx.Done():
		return nil, toError(ctx.Err(), p.client.url)
	}
}

// register adds w to the open stream (opening one when there is none) and returns the stream and w's request id;
// a nil stream means the batch goes unary (a broker without PublishStream, or a stream closed by Close).
func (p *streamPublisher) register(w *publishWaiter) (*publishStream, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unary || p.closed { // closed: a batch accepted before Close and sent again (a backpressure retry)
		return nil, 0
	}
	if p.current == nil {
		p.current = p.open()
	}
	id := p.nextID
	p.nextID++
	p.current.pending[id] = w
	p.sending.Add(1)
	return p.current, id
}

// open starts a stream and its reader. Called with mu held.
func (p *streamPublisher) open() *publishStream {
	ctx, cancel := context.WithCancel(p.client.ctx)
	s := &publishStream{
		bidi:    p.client.publisher.PublishStream(ctx),
		cancel:  cancel,
		pending: map[uint64]*publishWaiter{},
		done:    make(chan struct{}),
	}
	go p.read(s)
	return s
}

// read hands each answer to its batch; when the stream ends, whatever is still pending fails, or goes unary when
// the broker has no PublishStream.
func (p *streamPublisher) read(s *publishStream) {
	defer close(s.done)
	var failure error
	for {
		answer, err := s.bidi.Receive()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				failure = toError(err, p.client.url)
			}
			break
		}
		p.answer(s, answer)
	}
	s.cancel()
	_ = s.bidi.CloseResponse()
	p.mu.Lock()
	if p.current == s {
		p.current = nil
	}
	if CodeOf(failure) == CodeUnimplemented {
		p.unary = true
	}
	unary, pending := p.unary, s.pending
	s.pending = nil
	p.mu.Unlock()
	for _, w := range pending {
		if unary {
			go func() {
				results, err := p.client.unary(w.ctx, w.topic, w.events)
				w.answer <- publishAnswer{results, err}
			}()
		} else {
			w.answer <- publishAnswer{err: brokenStream(failure)}
		}
	}
}

func (p *streamPublisher) answer(s *publishStream, answer *cebusv1.PublishStreamResponse) {
	p.mu.Lock()
	w := s.pending[answer.GetRequestId()]
	delete(s.pending, answer.GetRequestId())
	p.mu.Unlock()
	if w == nil {
		return
	}
	if failure := answer.GetFailure(); failure != nil {
		w.answer <- publishAnswer{err: failureError(failure)}
		return
	}
	w.answer <- publishAnswer{results: publishResults(w.events, answer.GetResults())}
}

// brokenStream is the error of a batch whose answer was lost with the stream.
func brokenStream(cause error) error {
	const advice = "this batch was not answered before the publish stream ended, so it may or may not be stored: publish it again with the same event ids (the broker's dedupe makes that safe)"
	e, ok := errors.AsType[*Error](cause)
	if !ok {
		return &Error{Code: CodeUnavailable, Message: "the broker ended the publish stream; " + advice}
	}
	return &Error{Code: CodeUnavailable, Message: e.Message + "; " + advice, RetryAfter: e.RetryAfter, cause: cause}
}

// close half-closes the stream once the batches registered on it are sent: the broker answers what it has and
// ends it. Past closeGrace it is cancelled.
func (p *streamPublisher) close() {
	p.mu.Lock()
	p.closed = true
	s := p.current
	p.mu.Unlock()
	p.sending.Wait()
	if s == nil {
		return
	}
	s.sendMu.Lock()
	_ = s.bidi.CloseRequest()
	s.sendMu.Unlock()
	timer := time.AfterFunc(closeGrace, s.cancel)
	<-s.done
	timer.Stop()
}
