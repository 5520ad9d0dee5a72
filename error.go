package galleon

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the transports.
const (
	EInvalid            = "invalid"             // 400
	EUnauthenticated    = "unauthenticated"     // 401
	EForbidden          = "forbidden"           // 403
	ENotFound           = "not_found"           // 404
	EConflict           = "conflict"            // 409
	EPreconditionFailed = "precondition_failed" // 412
	ETooLarge           = "too_large"           // 413
	ETooManyRequests    = "too_many_requests"   // 429
	ENotImplemented     = "not_implemented"     // 501
	EInternal           = "internal"            // 500
)

// Error is the one error type the domain returns to users.
//
// Code is the generic class (EInvalid, ENotFound, ...) that decides the HTTP
// status. Reason is the specific, documented code a client matches on (for
// ARM: "ResourceGroupNotFound", "AuthorizationFailed"); when empty the
// transport uses a default for Code. Message says what is wrong and how to fix
// it; Target names the offending field or resource when there is one.
type Error struct {
	Code    string
	Reason  string
	Message string
	Target  string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("galleon error: code=%s reason=%s message=%s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("galleon error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ReasonErrorf returns an *Error with a code, a specific reason and a message.
func ReasonErrorf(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// WithTarget returns a copy of e naming target as the offending field.
func (e *Error) WithTarget(target string) *Error {
	c := *e
	c.Target = target
	return &c
}

// ErrorCode returns the code of the *Error in err's chain, EInternal for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of the *Error in err's chain,
// or a generic message for any other non-nil error (whose text may carry
// internals that users must not see).
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "The server hit an internal error. Retry the request; if it keeps failing, report the x-ms-request-id to the operator."
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// errorTable is the one mapping from error codes to HTTP status and the
// default client-facing code every transport writes.
var errorTable = map[string]struct {
	status int
	reason string
}{
	EInvalid:            {400, "BadRequest"},
	EUnauthenticated:    {401, "AuthenticationFailed"},
	EForbidden:          {403, "AuthorizationFailed"},
	ENotFound:           {404, "NotFound"},
	EConflict:           {409, "Conflict"},
	EPreconditionFailed: {412, "PreconditionFailed"},
	ETooLarge:           {413, "RequestEntityTooLarge"},
	ETooManyRequests:    {429, "TooManyRequests"},
	ENotImplemented:     {501, "NotImplemented"},
	EInternal:           {500, "InternalServerError"},
}

// HTTPStatus returns the HTTP status for an error code (500 if unknown).
func HTTPStatus(code string) int {
	if e, ok := errorTable[code]; ok {
		return e.status
	}
	return 500
}

// ErrorReason returns the specific code to show clients for err: its Reason
// when set, else the default for its Code.
func ErrorReason(err error) string {
	if e := AsError(err); e != nil && e.Reason != "" {
		return e.Reason
	}
	if e, ok := errorTable[ErrorCode(err)]; ok {
		return e.reason
	}
	return "InternalServerError"
}
