package ops_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/ops"
)

// scrape fetches the exposition text from m's handler.
func scrape(tb testing.TB, m *ops.Metrics) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// grep returns the lines of text that contain s, for failure messages.
func grep(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetrics(t *testing.T) {
	st := mustOpenStore(t)
	ctx := context.Background()
	for _, kind := range []string{"replicate", "replicate", "replicate", "delete"} {
		if err := st.EnqueueJob(ctx, &galleon.Job{Kind: kind}); err != nil {
			t.Fatal(err)
		}
	}
	if j, err := st.ClaimJob(ctx, []string{"replicate"}, "w", time.Now(), time.Minute); err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	metrics := ops.NewMetrics(st)
	routed := func(route string, status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			galleon.AuditNoteFromContext(r.Context()).Route = route
			w.WriteHeader(status)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("PUT /subscriptions/{sub}/resourceGroups/{rg}", routed("PUT /subscriptions/{}/resourceGroups/{}", 201))
	mux.Handle("GET /subscriptions/{sub}/resourceGroups/{rg}", routed("GET /subscriptions/{}/resourceGroups/{}", 404))
	h := newMiddleware(nil, metrics).Wrap(mux)
	for _, r := range []struct{ method, path string }{
		{http.MethodPut, "/subscriptions/s1/resourceGroups/a"},
		{http.MethodPut, "/subscriptions/s2/resourceGroups/b"},
		{http.MethodGet, "/subscriptions/s1/resourceGroups/a"},
		{http.MethodDelete, "/nowhere"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}

	text := scrape(t, metrics)
	for _, line := range []string{
		// One series per route template, not per path.
		`galleon_http_requests_total{code="201",route="PUT /subscriptions/{}/resourceGroups/{}"} 2`,
		`galleon_http_requests_total{code="404",route="GET /subscriptions/{}/resourceGroups/{}"} 1`,
		`galleon_http_requests_total{code="404",route="DELETE (unrouted)"} 1`,
		`galleon_http_request_duration_seconds_count{route="PUT /subscriptions/{}/resourceGroups/{}"} 2`,
		`galleon_jobs{kind="replicate",state="queued"} 2`,
		`galleon_jobs{kind="replicate",state="running"} 1`,
		`galleon_jobs{kind="delete",state="queued"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %s; have:\n%s", line, grep(text, strings.SplitN(line, "{", 2)[0]))
		}
	}
	if strings.Contains(text, "/subscriptions/s1") {
		t.Errorf("a raw path leaked into a label:\n%s", grep(text, "/subscriptions/s1"))
	}
	if !strings.Contains(text, "go_goroutines ") {
		t.Error("metrics lack the Go runtime collector (go_goroutines)")
	}
}

func TestMetricsWithoutJobStore(t *testing.T) {
	text := scrape(t, ops.NewMetrics(nil))
	if strings.Contains(text, "galleon_jobs") {
		t.Errorf("metrics without a job store report jobs:\n%s", grep(text, "galleon_jobs"))
	}
}

func TestHealth(t *testing.T) {
	down := func(context.Context) error { return errors.New("database is locked") }
	up := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name   string
		ready  func(context.Context) error
		path   string
		status int
		body   string
	}{
		{"HealthzUp", up, "/healthz", 200, "ok\n"},
		{"HealthzWhileNotReady", down, "/healthz", 200, "ok\n"},
		{"ReadyzUp", up, "/readyz", 200, "ok\n"},
		{"ReadyzNoCheck", nil, "/readyz", 200, "ok\n"},
		{"ReadyzDown", down, "/readyz", 503, "not ready: store unavailable\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			(&ops.Health{Ready: tc.ready}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tc.status || string(body) != tc.body {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, rec.Code, body, tc.status, tc.body)
			}
			if strings.Contains(string(body), "locked") {
				t.Errorf("body %q leaks the readiness error", body)
			}
		})
	}
	t.Run("ReadyzClosedStore", func(t *testing.T) {
		st := mustOpenStore(t)
		h := &ops.Health{Ready: func(ctx context.Context) error { _, err := st.CountJobs(ctx); return err }}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != 200 {
			t.Fatalf("open store: /readyz = %d, want 200", rec.Code)
		}
		st.Close()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("closed store: /readyz = %d, want 503", rec.Code)
		}
	})
}
