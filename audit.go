package galleon

import (
	"context"
	"time"
)

// AuditRecord is the durable record of one write request: who did what to
// which resource, when, and how it ended.
type AuditRecord struct {
	ID             string    `json:"id"`
	Time           time.Time `json:"eventTimestamp"`
	TenantID       string    `json:"tenantId"`
	SubscriptionID string    `json:"subscriptionId,omitempty"`
	PrincipalID    string    `json:"principalId"`
	PrincipalType  string    `json:"principalType"`
	AppID          string    `json:"appId,omitempty"`
	Method         string    `json:"httpMethod"`
	Path           string    `json:"path"`
	ResourceID     string    `json:"resourceId"`
	Action         string    `json:"operationName"`
	Status         int       `json:"statusCode"`
	Result         string    `json:"status"` // Succeeded or Failed
	RequestID      string    `json:"requestId"`
	CorrelationID  string    `json:"correlationId"`
	ClientIP       string    `json:"clientIp"`
}

// AuditFilter selects audit records; empty fields match all.
type AuditFilter struct {
	TenantID       string
	SubscriptionID string
	// Under keeps records whose resource ID lies at or under this scope.
	Under       string
	PrincipalID string
	Since       time.Time
	Until       time.Time
	// Before is a page token: the ID to continue before (newest first).
	Before string
	Limit  int
}

// AuditNote is filled in by a request's handlers so the audit middleware can
// record who acted and on what. It travels in the request context.
type AuditNote struct {
	Principal  *Principal
	ResourceID string
	Action     string
	// Route is the matched route's template, a low-cardinality label for
	// metrics and logs ("PUT /subscriptions/{}/resourceGroups/{}").
	Route string
}

type auditKey struct{}

// NewContextWithAuditNote returns ctx carrying a fresh note, and the note.
func NewContextWithAuditNote(ctx context.Context) (context.Context, *AuditNote) {
	n := &AuditNote{}
	return context.WithValue(ctx, auditKey{}, n), n
}

// AuditNoteFromContext returns the request's note, or nil outside a request.
func AuditNoteFromContext(ctx context.Context) *AuditNote {
	n, _ := ctx.Value(auditKey{}).(*AuditNote)
	return n
}

type requestIDKey struct{}

// RequestIDs are the identifiers a request carries in logs and headers.
type RequestIDs struct {
	RequestID     string // x-ms-request-id, made by the server
	CorrelationID string // x-ms-correlation-request-id, the client's or made
	ClientID      string // x-ms-client-request-id, the client's
}

// NewContextWithRequestIDs returns ctx carrying ids.
func NewContextWithRequestIDs(ctx context.Context, ids RequestIDs) context.Context {
	return context.WithValue(ctx, requestIDKey{}, ids)
}

// RequestIDsFromContext returns the request's IDs (zero outside a request).
func RequestIDsFromContext(ctx context.Context) RequestIDs {
	ids, _ := ctx.Value(requestIDKey{}).(RequestIDs)
	return ids
}
