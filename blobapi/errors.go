package blobapi

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/galleonhq/galleon"
)

// apiErrorf returns a *galleon.Error whose Reason is the Azure error code
// the client sees (x-ms-error-code).
func apiErrorf(code, reason, format string, args ...any) error {
	return galleon.ReasonErrorf(code, reason, format, args...)
}

// reasonStatus holds the Azure codes whose HTTP status is not the one
// galleon.HTTPStatus gives their class.
var reasonStatus = map[string]int{
	"InvalidRange":                http.StatusRequestedRangeNotSatisfiable,
	"InvalidPageRange":            http.StatusRequestedRangeNotSatisfiable,
	"MissingContentLengthHeader":  http.StatusLengthRequired,
	"UnsupportedHttpVerb":         http.StatusMethodNotAllowed,
	"ServerBusy":                  http.StatusServiceUnavailable,
	"NoAuthenticationInformation": http.StatusUnauthorized,
}

// defaultReason is the Azure code for an error of a class that carries no
// Reason of its own (errors made outside this package).
var defaultReason = map[string]string{
	galleon.EInvalid:            "InvalidInput",
	galleon.EUnauthenticated:    "NoAuthenticationInformation",
	galleon.EForbidden:          "AuthorizationFailure",
	galleon.ENotFound:           "ResourceNotFound",
	galleon.EConflict:           "OperationNotAllowedInCurrentState",
	galleon.EPreconditionFailed: "ConditionNotMet",
	galleon.ETooLarge:           "RequestBodyTooLarge",
	galleon.ETooManyRequests:    "ServerBusy",
	galleon.ENotImplemented:     "NotImplemented",
}

// status returns the HTTP status and Azure code for err.
func status(err error) (int, string) {
	code := galleon.ErrorCode(err)
	if code == galleon.EInternal {
		return http.StatusInternalServerError, "InternalError"
	}
	reason := ""
	if e := galleon.AsError(err); e != nil {
		reason = e.Reason
	}
	if reason == "" {
		reason = defaultReason[code]
	}
	if st, ok := reasonStatus[reason]; ok {
		return st, reason
	}
	return galleon.HTTPStatus(code), reason
}

// writeError answers with Azure's error document. Internal errors are
// logged with the request ID and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, id string, err error) {
	st, reason := status(err)
	msg := galleon.ErrorMessage(err)
	if st == http.StatusInternalServerError {
		s.logger().Error("blob api request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	h.Set("x-ms-error-code", reason)
	if st == http.StatusRequestedRangeNotSatisfiable {
		if e := galleon.AsError(err); e != nil && e.Target != "" {
			h.Set("Content-Range", e.Target)
		}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(st)
		return
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error><Code>")
	_ = xml.EscapeText(&b, []byte(reason))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(msg+"\nRequestId:"+id+"\nTime:"+s.now().Format("2006-01-02T15:04:05.0000000Z")))
	b.WriteString("</Message></Error>")
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(st)
	_, _ = w.Write(b.Bytes())
}

// notFound is the error for a blob that does not exist.
func notFound(l loc) error {
	return apiErrorf(galleon.ENotFound, "BlobNotFound",
		"The blob '%s' does not exist. Check the URL; upload URLs come from the disk's grant-access, and a blob exists once its Put Blob or Put Block List succeeded.", l)
}

// sealed is the error for a write to a sealed blob.
func sealed(l loc) error {
	return apiErrorf(galleon.EConflict, "BlobIsSealed",
		"The blob '%s' is sealed: the disk's write access has ended, so it accepts no more writes. Grant write access to the disk again (grant-access with access level Write) to get a new upload URL.", l)
}

// wrongType is the error for an operation on the other kind of blob.
func wrongType(l loc, kind, want string) error {
	return apiErrorf(galleon.EConflict, "InvalidBlobType",
		"The blob '%s' is a %s, and this operation works on a %s only. Delete it or use another blob name.", l, kind, want)
}
