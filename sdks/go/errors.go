package cebus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
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

// codes is the one code table: the gRPC/Connect numbers 1 (canceled) to 16 (unauthenticated), in order.
var codes = [...]Code{
	CodeCanceled, CodeUnknown, CodeInvalidArgument, CodeDeadlineExceeded, CodeNotFound, CodeAlreadyExists,
	CodePermissionDenied, CodeResourceExhausted, CodeFailedPrecondition, CodeAborted, CodeOutOfRange,
	CodeUnimplemented, CodeInternal, CodeUnavailable, CodeDataLoss, CodeUnauthenticated,
}

// permanentCodes are the codes after which trying again cannot help (the request or the name is wrong, or access
// is refused): a subscription that meets one ends instead of reconnecting.
var permanentCodes = []Code{
	CodeNotFound, CodeInvalidArgument, CodePermissionDenied, CodeUnauthenticated, CodeFailedPrecondition,
	CodeUnimplemented,
}

// codeOfConnect returns the Cebus code of a Connect code (CodeUnknown outside 1–16).
func codeOfConnect(code connect.Code) Code {
	if code >= 1 && int(code) <= len(codes) {
		return codes[code-1]
	}
	return CodeUnknown
}

// parseCode returns the code a wire name spells (CodeUnknown for a name outside the set).
func parseCode(name string) Code {
	if slices.Contains(codes[:], Code(name)) {
		return Code(name)
	}
	return CodeUnknown
}

// Error is the one error type of the SDK: the broker's code and its message, which says what to do, the request
// field at fault and how long to wait before trying again, when the broker named them. Read it with errors.As or
// errors.AsType[*cebus.Error], or read only its code with CodeOf.
type Error struct {
	Code    Code
	Message string
	// Field is the request field at fault, as a path into the request ("topic", "events[2].source",
	// "subscription.topic"); empty when no one field is to blame.
	Field string
	// RetryAfter is how long to wait before trying again, when waiting can help (resource_exhausted under
	// backpressure); zero when there is no hint.
	RetryAfter time.Duration
	cause      error
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
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeUnknown
}

// permanent reports errors after which reconnecting a subscription cannot help.
func permanent(err error) bool {
	return slices.Contains(permanentCodes, CodeOf(err))
}

// toError turns what the transport returned into an *Error; url names the broker in "cannot reach" messages.
func toError(err error, url string) error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeCanceled, Message: "the call was canceled by its context", cause: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeDeadlineExceeded, Message: "the call did not finish before its context's deadline", cause: err}
	}
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		if ce.Code() == connect.CodeUnavailable && unreachable(err) {
			return &Error{Code: CodeUnavailable, Message: fmt.Sprintf("cannot reach the Cebus broker at %s; is `cebus serve` running there?", url), cause: err}
		}
		e := &Error{Code: codeOfConnect(ce.Code()), Message: ce.Message(), cause: err}
		withErrorInfo(e, ce)
		return e
	}
	return &Error{Code: CodeUnknown, Message: err.Error(), cause: err}
}

// withErrorInfo copies the field and retry hint of a cebus.v1.ErrorInfo detail, when the error carries one.
func withErrorInfo(e *Error, ce *connect.Error) {
	for _, detail := range ce.Details() {
		value, err := detail.Value()
		if info, ok := value.(*cebusv1.ErrorInfo); ok && err == nil {
			e.Field = info.GetField()
			e.RetryAfter = time.Duration(info.GetRetryAfterMs()) * time.Millisecond
			return
		}
	}
}

// failureError is the error of one PublishStream batch, from its PublishFailure.
func failureError(failure *cebusv1.PublishFailure) *Error {
	return &Error{
		Code:       parseCode(failure.GetCode()),
		Message:    failure.GetMessage(),
		Field:      failure.GetField(),
		RetryAfter: time.Duration(failure.GetRetryAfterMs()) * time.Millisecond,
	}
}

func unreachable(err error) bool {
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	text := err.Error()
	return strings.Contains(text, "connection refused") || strings.Contains(text, "no such host") || strings.Contains(text, "EOF")
}
