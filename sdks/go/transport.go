package cebus

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"
)

// newHTTPClient is the default transport: HTTP/2 always, since the Consume and PublishStream calls stream both
// ways. A plaintext broker (http://) is reached with HTTP/2 prior knowledge (h2c); https:// negotiates HTTP/2 over
// TLS. There is no total timeout (subscriptions are long streams); a connection that stops answering is found by
// HTTP/2 pings and closed, so its streams fail and reconnect.
func newHTTPClient(scheme string) *http.Client {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 16,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: 15 * time.Second, PingTimeout: 10 * time.Second},
		Protocols:           new(http.Protocols),
	}
	if scheme == "http" {
		transport.Protocols.SetUnencryptedHTTP2(true)
	} else {
		transport.Protocols.SetHTTP2(true)
		transport.Protocols.SetHTTP1(true)
	}
	return &http.Client{Transport: transport}
}

// headerSetter adds the client's fixed headers (WithHeader) to every call.
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
