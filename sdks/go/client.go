// Package cebus is the Go client of Cebus, the CloudEvents bus: publish CloudEvents to topics and consume
// subscriptions with confirmed acks. It follows the Cebus client contract (docs/sdk-contract.md): publishes share
// one PublishStream and single publishes are batched per topic, consumers use the bidirectional Consume stream
// with flow control and settles confirmed on it, and every error is a *cebus.Error.
//
//	client, _ := cebus.NewClient("http://127.0.0.1:8080")
//	event, _ := cebus.NewEvent("/shop", "order.created", map[string]any{"id": 1})
//	client.Publish(ctx, "orders", event)
//	client.Subscribe(ctx, "orders-billing", func(ctx context.Context, m *cebus.Message) error { ...; return nil })
package cebus

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/cebus/cebus/sdks/go/gen/cebus/v1/cebusv1connect"
)

// Client talks to one Cebus broker. It is safe for concurrent use. Close it when done.
type Client struct {
	url        string
	publisher  cebusv1connect.PublisherServiceClient
	subscriber cebusv1connect.SubscriberServiceClient
	admin      cebusv1connect.AdminServiceClient
	stream     *streamPublisher
	batching   *BatchingOptions // nil: every publish goes on its own
	// backpressure is how long a publish may wait in all, retrying, while the broker refuses it for load.
	backpressure time.Duration
	// ctx lives as long as the client: batches and the publish stream run under it, and Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	batchers map[string]*batcher
	subs     map[*Subscription]struct{}
}

type clientConfig struct {
	httpClient   connect.HTTPClient
	headers      http.Header
	interceptors []connect.Interceptor
	batching     *BatchingOptions
	backpressure time.Duration
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

// WithHTTPClient sets the HTTP client. The default speaks HTTP/2 only (h2c for http:// URLs), which the
// bidirectional streams need, and has no total timeout, since subscriptions are long streams. A client you bring
// must speak HTTP/2 too: configure http.Transport.Protocols (SetUnencryptedHTTP2 for http:// brokers).
func WithHTTPClient(c connect.HTTPClient) ClientOption {
	return func(cfg *clientConfig) { cfg.httpClient = c }
}

// WithHeader adds a header to every call (an API key, say).
func WithHeader(name, value string) ClientOption {
	return func(cfg *clientConfig) { cfg.headers.Add(name, value) }
}

// WithInterceptors adds Connect interceptors to every call (tracing, metrics, logging).
func WithInterceptors(interceptors ...connect.Interceptor) ClientOption {
	return func(cfg *clientConfig) { cfg.interceptors = append(cfg.interceptors, interceptors...) }
}

// WithBatching tunes how single-event publishes are gathered into batches per topic; zero fields keep their
// defaults (see BatchingOptions).
func WithBatching(options BatchingOptions) ClientOption {
	return func(cfg *clientConfig) { cfg.batching = &options }
}

// WithoutBatching sends every Publish call on its own, as its own batch.
func WithoutBatching() ClientOption {
	return func(cfg *clientConfig) { cfg.batching = nil }
}

// WithBackpressureRetry sets how long a publish may wait in all, retrying, while the broker refuses it for load
// (resource_exhausted with a retry hint) before the refusal is the caller's [30 s]; 0 returns it at once. A
// publish whose context has a deadline is never retried.
func WithBackpressureRetry(d time.Duration) ClientOption {
	return func(cfg *clientConfig) { cfg.backpressure = d }
}

// NewClient returns a client of the broker at rawURL (http://host:port or https://host:port). It does not
// connect yet. A bad URL or option is an *Error with CodeInvalidArgument.
func NewClient(rawURL string, options ...ClientOption) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Code: CodeInvalidArgument, Field: "url", Message: fmt.Sprintf("%q is not a broker URL; give one like http://127.0.0.1:8080", rawURL)}
	}
	cfg := clientConfig{headers: http.Header{}, batching: &BatchingOptions{}, backpressure: 30 * time.Second}
	for _, option := range options {
		option(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.httpClient == nil {
		cfg.httpClient = newHTTPClient(u.Scheme)
	}
	base := strings.TrimSuffix(rawURL, "/")
	opts := []connect.ClientOption{}
	if len(cfg.headers) > 0 {
		opts = append(opts, connect.WithInterceptors(&headerSetter{headers: cfg.headers}))
	}
	if len(cfg.interceptors) > 0 {
		opts = append(opts, connect.WithInterceptors(cfg.interceptors...))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url:          base,
		publisher:    cebusv1connect.NewPublisherServiceClient(cfg.httpClient, base, opts...),
		subscriber:   cebusv1connect.NewSubscriberServiceClient(cfg.httpClient, base, opts...),
		admin:        cebusv1connect.NewAdminServiceClient(cfg.httpClient, base, opts...),
		batching:     cfg.batching,
		backpressure: cfg.backpressure,
		ctx:          ctx,
		cancel:       cancel,
		batchers:     map[string]*batcher{},
		subs:         map[*Subscription]struct{}{},
	}
	c.stream = newStreamPublisher(c)
	return c, nil
}

func (cfg *clientConfig) validate() error {
	if cfg.backpressure < 0 {
		return &Error{Code: CodeInvalidArgument, Message: "WithBackpressureRetry needs a duration of 0 or more (0 turns the retry off)"}
	}
	if cfg.batching == nil {
		return nil
	}
	b := cfg.batching.withDefaults()
	if b.Linger < 0 || b.MaxEvents < 1 || b.MaxBytes < 1 || b.MaxInFlight < 1 {
		return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("WithBatching got %+v; give a linger of 0 or more and limits of 1 or more (zero keeps a default)", *cfg.batching)}
	}
	cfg.batching = &b
	return nil
}

// URL is the broker's address.
func (c *Client) URL() string { return c.url }

// Admin returns the generated admin client, for what the typed admin methods do not cover.
func (c *Client) Admin() cebusv1connect.AdminServiceClient { return c.admin }

// closeGrace is how long Close waits for publishes in flight and a subscription's clean close before it cancels.
const closeGrace = 3 * time.Second

// Close closes every open subscription cleanly, sends the publishes already accepted and waits for their answers
// (up to 3 s), then closes the publish stream. Publishing after Close fails with CodeFailedPrecondition. It is
// safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	subs := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
	}
	batchers := make([]*batcher, 0, len(c.batchers))
	for _, b := range c.batchers {
		batchers = append(batchers, b)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { _ = s.Close() })
	}
	grace := time.AfterFunc(closeGrace, c.cancel) // ends backpressure waits and a stream the broker does not end
	for _, b := range batchers {
		b.dispatched()
	}
	c.stream.close() // a batch sent again after this (a backpressure retry) goes unary
	for _, b := range batchers {
		b.answered()
	}
	grace.Stop()
	wg.Wait()
	c.cancel()
	return nil
}

// errClientClosed is what a call on a closed client returns.
func errClientClosed() error {
	return &Error{Code: CodeFailedPrecondition, Message: "the client was closed; make a new one with NewClient"}
}

func (c *Client) track(s *Subscription) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.subs[s] = struct{}{}
	return true
}

func (c *Client) untrack(s *Subscription) {
	c.mu.Lock()
	delete(c.subs, s)
	c.mu.Unlock()
}
