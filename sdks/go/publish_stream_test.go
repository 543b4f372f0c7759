package cebus_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	cebus "github.com/cebus/cebus/sdks/go"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"github.com/cebus/cebus/sdks/go/gen/cebus/v1/cebusv1connect"
)

// The publish stream's edge cases a real broker does not produce on demand: a broker without PublishStream, a
// stream that breaks with batches in flight, a batch failure with a field and a retry hint. Each runs against a
// real HTTP/2 (h2c) Connect server made from the generated PublisherService handler; the real broker's
// PublishStream is what every other test publishes on.

// publisher is a PublisherService: Publish answers every batch; PublishStream is unimplemented unless stream is
// set. It counts the calls it gets.
type publisher struct {
	cebusv1connect.UnimplementedPublisherServiceHandler
	stream  func(n int64, s *connect.BidiStream[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]) error
	unary   atomic.Int64
	streams atomic.Int64
}

func (p *publisher) Publish(_ context.Context, req *connect.Request[cebusv1.PublishRequest]) (*connect.Response[cebusv1.PublishResponse], error) {
	p.unary.Add(1)
	return connect.NewResponse(&cebusv1.PublishResponse{Results: results(req.Msg.GetEvents())}), nil
}

func (p *publisher) PublishStream(ctx context.Context, s *connect.BidiStream[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]) error {
	n := p.streams.Add(1)
	if p.stream == nil {
		return p.UnimplementedPublisherServiceHandler.PublishStream(ctx, s)
	}
	return p.stream(n, s)
}

func results(events []*cebus.Event) []*cebusv1.PublishResult {
	out := make([]*cebusv1.PublishResult, len(events))
	for i := range events {
		out[i] = &cebusv1.PublishResult{Offset: int64(i)}
	}
	return out
}

// serve runs p on a real HTTP/2 server with prior knowledge (h2c) and returns a client of it.
func serve(t *testing.T, p *publisher, options ...cebus.ClientOption) *cebus.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(cebusv1connect.NewPublisherServiceHandler(p))
	server := httptest.NewUnstartedServer(mux)
	server.Config.Protocols = new(http.Protocols)
	server.Config.Protocols.SetHTTP1(true)
	server.Config.Protocols.SetUnencryptedHTTP2(true)
	server.Start()
	t.Cleanup(server.Close)
	client, err := cebus.NewClient(server.URL, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestABrokerWithoutPublishStreamGetsEveryPublishUnaryForGood(t *testing.T) {
	p := &publisher{}
	client := serve(t, p)
	ctx := bounded(t)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := client.Publish(ctx, "t", event(t, "single")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if r, err := client.Publish(ctx, "t", event(t, "a"), event(t, "b")); err != nil || len(r) != 2 {
		t.Fatalf("a batch of two: %v %+v", err, r)
	}
	if p.streams.Load() != 1 || p.unary.Load() < 2 {
		t.Fatalf("%d stream attempts and %d unary publishes, want 1 attempt and every batch unary", p.streams.Load(), p.unary.Load())
	}
}

func TestABrokenStreamFailsItsBatchesWithUnavailableAndTheNextPublishOpensANewOne(t *testing.T) {
	p := &publisher{stream: func(n int64, s *connect.BidiStream[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]) error {
		for {
			request, err := s.Receive()
			if err != nil {
				return nil
			}
			if n == 1 {
				return connect.NewError(connect.CodeUnavailable, errors.New("connection reset"))
			}
			answer := &cebusv1.PublishStreamResponse{RequestId: request.GetRequestId(), Results: results(request.GetEvents())}
			if err := s.Send(answer); err != nil {
				return err
			}
		}
	}}
	client := serve(t, p)
	ctx := bounded(t)
	_, err := client.Publish(ctx, "t", event(t, "lost"))
	if e, ok := errors.AsType[*cebus.Error](err); !ok || e.Code != cebus.CodeUnavailable || !strings.Contains(e.Message, "publish it again with the same event ids") {
		t.Fatalf("the batch of the broken stream: %v", err)
	}
	if _, err := client.Publish(ctx, "t", event(t, "next")); err != nil {
		t.Fatal(err)
	}
	if p.streams.Load() != 2 || p.unary.Load() != 0 {
		t.Fatalf("%d streams and %d unary publishes, want 2 and 0", p.streams.Load(), p.unary.Load())
	}
}

// refusing answers the first refusals batches of every stream with a failure, then stores.
func refusing(refusals int64, failure *cebusv1.PublishFailure, requests *atomic.Int64) func(int64, *connect.BidiStream[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]) error {
	return func(_ int64, s *connect.BidiStream[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]) error {
		for {
			request, err := s.Receive()
			if err != nil {
				return nil
			}
			answer := &cebusv1.PublishStreamResponse{RequestId: request.GetRequestId(), Results: results(request.GetEvents())}
			if requests.Add(1) <= refusals {
				answer = &cebusv1.PublishStreamResponse{RequestId: request.GetRequestId(), Failure: failure}
			}
			if err := s.Send(answer); err != nil {
				return err
			}
		}
	}
}

func TestABatchFailureOnTheStreamCarriesItsCodeFieldAndRetryHint(t *testing.T) {
	var requests atomic.Int64
	failure := &cebusv1.PublishFailure{Code: "resource_exhausted", Message: "slow down", Field: "topic", RetryAfterMs: 40}
	client := serve(t, &publisher{stream: refusing(1, failure, &requests)}, cebus.WithBackpressureRetry(0))
	_, err := client.Publish(bounded(t), "t", event(t, "x"))
	e, ok := errors.AsType[*cebus.Error](err)
	if !ok || e.Code != cebus.CodeResourceExhausted || e.Field != "topic" || e.RetryAfter != 40*time.Millisecond || e.Message != "slow down" {
		t.Fatalf("got %#v", err)
	}
}

func TestARefusalForLoadIsRetriedAfterItsHint(t *testing.T) {
	var requests atomic.Int64
	failure := &cebusv1.PublishFailure{Code: "resource_exhausted", Message: "slow down", RetryAfterMs: 20}
	client := serve(t, &publisher{stream: refusing(2, failure, &requests)})
	if _, err := client.Publish(bounded(t), "t", event(t, "x")); err != nil {
		t.Fatal(err)
	}
	if requests.Load() != 3 {
		t.Fatalf("%d requests, want 2 refused and 1 stored", requests.Load())
	}
}

func TestCloseWaitsForTheAnswersInFlight(t *testing.T) {
	// This server answers only once the client has half-closed the stream, which Close does.
	received := make(chan struct{})
	p := &publisher{stream: func(_ int64, s *connect.BidiStream[cebusv1.PublishStreamRequest, cebusv1.PublishStreamResponse]) error {
		var held []*cebusv1.PublishStreamRequest
		for {
			request, err := s.Receive()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if held = append(held, request); len(held) == 1 {
				close(received)
			}
		}
		for _, request := range held {
			if err := s.Send(&cebusv1.PublishStreamResponse{RequestId: request.GetRequestId(), Results: results(request.GetEvents())}); err != nil {
				return err
			}
		}
		return nil
	}}
	client := serve(t, p)
	done := make(chan error, 1)
	go func() {
		_, err := client.Publish(bounded(t), "t", event(t, "x"))
		done <- err
	}()
	<-received
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the publish in flight at Close: %v", err)
	}
}
