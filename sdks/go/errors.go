package cebus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"connectrpc.com/connect"
)

// Code is a Cebus error code: the Connect/gRPC code names, such as "not_found" or "invalid_argument".
type Code string

// The closed set of codes a Cebus error carries.
const (
	CodeCanceled           Code = "canceled"
	CodeUnknown            Code = "unknown"
	CodeInvalidArgument    Code = "invalid_argument"
	CodeDeadlineExceeded   Code = "deadline_exceeded"
	CodeNotFound           Code = "not_found"
	CodeAlreadyExists      Code = "already_exists"
	CodePermissionDenied   Code = "permission_denied"
	CodeResourceExhausted  Code = "resource_exhausted"
	CodeFailedPrecondition Code = "failed_precondition"
	CodeAborted            Code = "aborted"
	CodeOutOfRange         Code = "out_of_range"
	CodeUnimplemented      Code = "unimplemented"
	CodeInternal           Code = "internal"
	CodeUnavailable        Code = "unavailable"
	CodeDataLoss           Code = "data_loss"
	CodeUnauthenticated    Code = "unauthenticated"
)

// Error is the one error type of the SDK: the broker's code and its message, which says what to do.
// Use errors.As to read it, or CodeOf.
type Error struct {
	Code    Code
	Message string
	cause   error
}

func (e *Error) Error() string { return fmt.Sprintf("cebus: %s: %s", e.Code, e.Message) }

// Unwrap returns the transport error underneath, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is matches another *Error with the same code, so errors.Is(err, &cebus.Error{Code: cebus.CodeNotFound}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// CodeOf returns the Cebus code of err, "" for nil, and CodeUnknown for errors that did not come from Cebus.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeUnknown
}

// toError turns what the transport returned into an *Error; url names the broker in "cannot reach" messages.
func toError(err error, url string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeCanceled, Message: "the call was canceled by its context", cause: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeDeadlineExceeded, Message: "the call did not finish before its context's deadline", cause: err}
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		code := Code(ce.Code().String())
		if ce.Code() == connect.CodeUnavailable && unreachable(err) {
			return &Error{Code: CodeUnavailable, Message: fmt.Sprintf("cannot reach the Cebus broker at %s; is `cebus serve` running there?", url), cause: err}
		}
		return &Error{Code: code, Message: ce.Message(), cause: err}
	}
	return &Error{Code: CodeUnknown, Message: err.Error(), cause: err}
}

func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	text := err.Error()
	return strings.Contains(text, "connection refused") || strings.Contains(text, "no such host") || strings.Contains(text, "EOF")
}

// permanent reports errors after which reconnecting a subscription cannot help.
func permanent(err error) bool {
	switch CodeOf(err) {
	case CodeNotFound, CodeInvalidArgument, CodePermissionDenied, CodeUnauthenticated, CodeFailedPrecondition, CodeUnimplemented:
		return true
	}
	return false
}
