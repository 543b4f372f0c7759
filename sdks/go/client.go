// Package cebus is the Go client of Cebus, the CloudEvents bus: publish CloudEvents to topics and consume
// subscriptions with confirmed acks. It is a thin layer over the Connect stubs generated from the broker's
// Protobuf contract (package gen/...).
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
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"github.com/cebus/cebus/sdks/go/gen/cebus/v1/cebusv1connect"
)

// Client talks to one Cebus broker. It is safe for concurrent use.
type Client struct {
	url        string
	publisher  cebusv1connect.PublisherServiceClient
	subscriber cebusv1connect.SubscriberServiceClient
	admin      cebusv1connect.AdminServiceClient
}

type clientConfig struct {
	httpClient connect.HTTPClient
	headers    http.Header
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

// WithHTTPClient sets the HTTP client (default: one without a total timeout, since subscriptions are long streams).
func WithHTTPClient(c connect.HTTPClient) ClientOption {
	return func(cfg *clientConfig) { cfg.httpClient = c }
}

// WithHeader adds a header to every call (an API key, say).
func WithHeader(name, value string) ClientOption {
	return func(cfg *clientConfig) { cfg.headers.Add(name, value) }
}

// NewClient returns a client of the broker at rawURL (http://host:port). It does not connect yet; a bad URL is an
// *Error with CodeInvalidArgument.
func NewClient(rawURL string, options ...ClientOption) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("%q is not a broker URL; give one like http://127.0.0.1:8080", rawURL)}
	}
	cfg := clientConfig{httpClient: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, IdleConnTimeout: 90 * time.Second, MaxIdleConnsPerHost: 16}}, headers: http.Header{}}
	for _, option := range options {
		option(&cfg)
	}
	base := strings.TrimSuffix(rawURL, "/")
	opts := []connect.ClientOption{}
	if len(cfg.headers) > 0 {
		opts = append(opts, connect.WithInterceptors(headerInterceptor(cfg.headers)))
	}
	return &Client{
		url:        base,
		publisher:  cebusv1connect.NewPublisherServiceClient(cfg.httpClient, base, opts...),
		subscriber: cebusv1connect.NewSubscriberServiceClient(cfg.httpClient, base, opts...),
		admin:      cebusv1connect.NewAdminServiceClient(cfg.httpClient, base, opts...),
	}, nil
}

// URL is the broker's address.
func (c *Client) URL() string { return c.url }

// Admin returns the generated admin client (topics, subscriptions, dead letters) for what this layer does not wrap.
func (c *Client) Admin() cebusv1connect.AdminServiceClient { return c.admin }

// PublishResult says where an event was stored; Duplicate means an earlier publish of the same (source, id) won.
type PublishResult struct {
	Partition uint32
	Offset    int64
	Duplicate bool
}

// Publish stores events in topic, in order, and returns when the broker has made them durable.
func (c *Client) Publish(ctx context.Context, topic string, events ...*Event) ([]PublishResult, error) {
	response, err := c.publisher.Publish(ctx, connect.NewRequest(&cebusv1.PublishRequest{Topic: topic, Events: events}))
	if err != nil {
		return nil, toError(err, c.url)
	}
	results := make([]PublishResult, len(response.Msg.GetResults()))
	for i, r := range response.Msg.GetResults() {
		results[i] = PublishResult{Partition: r.GetPartition(), Offset: r.GetOffset(), Duplicate: r.GetDuplicate()}
	}
	return results, nil
}

func headerInterceptor(headers http.Header) connect.Interceptor {
	return &headerSetter{headers: headers}
}

type headerSetter struct{ headers http.Header }

func (h *headerSetter) set(target http.Header) {
	for name, values := range h.headers {
		for _, v := range values {
			target.Add(name, v)
		}
	}
}

func (h *headerSetter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		h.set(req.Header())
		return next(ctx, req)
	}
}

func (h *headerSetter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		h.set(conn.RequestHeader())
		return conn
	}
}

func (h *headerSetter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
