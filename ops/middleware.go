package ops

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/galleonhq/galleon"
)

// Middleware wraps every surface's handler.
type Middleware struct {
	Audit galleon.AuditStore
	// Logger receives request logs and panics; nil means slog.Default().
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (m *Middleware) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

func (m *Middleware) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Wrap returns next with request IDs, panic recovery, logging, metrics and
// auditing of writes.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ids := galleon.RequestIDs{
			RequestID:     uuid.NewString(),
			CorrelationID: r.Header.Get("x-ms-correlation-request-id"),
			ClientID:      r.Header.Get("x-ms-client-request-id"),
		}
		if ids.CorrelationID == "" {
			ids.CorrelationID = uuid.NewString()
		}
		h := w.Header()
		h.Set("x-ms-request-id", ids.RequestID)
		h.Set("x-ms-correlation-request-id", ids.CorrelationID)
		if ids.ClientID != "" {
			h.Set("x-ms-client-request-id", ids.ClientID)
		}
		ctx := galleon.NewContextWithRequestIDs(r.Context(), ids)
		ctx, note := galleon.NewContextWithAuditNote(ctx)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(ctx)

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				m.logger().Error("handler panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
					"method", r.Method, "path", r.URL.Path, "requestId", ids.RequestID)
				if sw.status == 0 {
					sw.Header().Set("Content-Type", "application/json; charset=utf-8")
					sw.WriteHeader(http.StatusInternalServerError)
					fmt.Fprintf(sw, `{"error":{"code":"InternalServerError","message":"The server hit an internal error. Retry the request; if it keeps failing, report request ID %s to the operator."}}`+"\n", ids.RequestID)
				}
			}
			m.finish(r, sw, note, ids, start)
		}()
		next.ServeHTTP(sw, r)
	})
}

func (m *Middleware) finish(r *http.Request, sw *statusWriter, note *galleon.AuditNote, ids galleon.RequestIDs, start time.Time) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	elapsed := time.Since(start)
	route := note.Route
	if route == "" {
		route = r.Method + " (unrouted)"
	}
	if m.Metrics != nil {
		m.Metrics.requests.With(prometheus.Labels{"route": route, "code": strconv.Itoa(sw.status)}).Inc()
		m.Metrics.latency.With(prometheus.Labels{"route": route}).Observe(elapsed.Seconds())
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.bytes,
		"duration_ms", float64(elapsed.Microseconds()) / 1000, "requestId", ids.RequestID, "correlationId", ids.CorrelationID}
	if note.Principal != nil {
		attrs = append(attrs, "principal", note.Principal.ObjectID, "tenant", note.Principal.TenantID)
	}
	m.logger().Info("request", attrs...)
	if isWrite(r.Method) && note.Principal != nil && m.Audit != nil {
		m.audit(r, sw.status, note, ids)
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func (m *Middleware) audit(r *http.Request, status int, note *galleon.AuditNote, ids galleon.RequestIDs) {
	p := note.Principal
	rec := &galleon.AuditRecord{
		Time: m.now(), TenantID: p.TenantID, PrincipalID: p.ObjectID, PrincipalType: p.Type, AppID: p.AppID,
		Method: r.Method, Path: r.URL.Path, ResourceID: note.ResourceID, Action: note.Action, Status: status,
		RequestID: ids.RequestID, CorrelationID: ids.CorrelationID, Result: "Succeeded",
	}
	if status >= 400 {
		rec.Result = "Failed"
	}
	if rec.ResourceID == "" {
		rec.ResourceID = r.URL.Path
	}
	if id, err := galleon.ParseResourceID(rec.ResourceID); err == nil {
		rec.SubscriptionID = id.SubscriptionID
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		rec.ClientIP = host
	}
	// The audit write must not be lost because the client went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := m.Audit.AppendAudit(ctx, rec); err != nil {
		m.logger().Error("append audit record", "err", err, "requestId", ids.RequestID)
	}
}
