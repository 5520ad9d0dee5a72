package ops_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/ops"
	"github.com/galleonhq/galleon/store/sqlite"
)

var fixedNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustOpenStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func newMiddleware(st galleon.Store, m *ops.Metrics) *ops.Middleware {
	mw := &ops.Middleware{Logger: slog.New(slog.DiscardHandler), Metrics: m, Now: func() time.Time { return fixedNow }}
	if st != nil {
		mw.Audit = st
	}
	return mw
}

func TestRequestIDs(t *testing.T) {
	for _, tc := range []struct {
		name                string
		correlation, client string // sent by the client; "" = not sent
	}{
		{"ClientSendsBoth", "corr-1", "client-1"},
		{"ClientSendsCorrelation", "corr-1", ""},
		{"ClientSendsClientID", "", "client-1"},
		{"ClientSendsNone", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen galleon.RequestIDs
			h := newMiddleware(nil, nil).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = galleon.RequestIDsFromContext(r.Context())
				if galleon.AuditNoteFromContext(r.Context()) == nil {
					t.Error("handler has no audit note in its context")
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/subscriptions/s", nil)
			if tc.correlation != "" {
				req.Header.Set("x-ms-correlation-request-id", tc.correlation)
			}
			if tc.client != "" {
				req.Header.Set("x-ms-client-request-id", tc.client)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			got := rec.Result().Header
			reqID := got.Get("x-ms-request-id")
			if _, err := uuid.Parse(reqID); err != nil {
				t.Errorf("x-ms-request-id = %q, want a UUID", reqID)
			}
			if seen.RequestID != reqID {
				t.Errorf("handler saw request ID %q, header says %q", seen.RequestID, reqID)
			}
			corr := got.Get("x-ms-correlation-request-id")
			switch {
			case tc.correlation != "" && corr != tc.correlation:
				t.Errorf("x-ms-correlation-request-id = %q, want the client's %q echoed", corr, tc.correlation)
			case tc.correlation == "" && (corr == "" || corr == reqID):
				t.Errorf("x-ms-correlation-request-id = %q, want a fresh ID distinct from the request ID %q", corr, reqID)
			}
			if seen.CorrelationID != corr {
				t.Errorf("handler saw correlation ID %q, header says %q", seen.CorrelationID, corr)
			}
			if c := got.Values("x-ms-client-request-id"); tc.client == "" && len(c) != 0 || tc.client != "" && (len(c) != 1 || c[0] != tc.client) {
				t.Errorf("x-ms-client-request-id = %q, want %q", c, tc.client)
			}
			if seen.ClientID != tc.client {
				t.Errorf("handler saw client ID %q, want %q", seen.ClientID, tc.client)
			}
		})
	}
	t.Run("FreshPerRequest", func(t *testing.T) {
		h := newMiddleware(nil, nil).Wrap(http.NotFoundHandler())
		ids := map[string]bool{}
		for range 3 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			ids[rec.Header().Get("x-ms-request-id")] = true
		}
		if len(ids) != 3 {
			t.Errorf("3 requests got request IDs %v, want 3 distinct", ids)
		}
	})
}

// TestZeroMiddleware checks that a Middleware with no fields set serves
// requests (logging to slog.Default) instead of panicking.
func TestZeroMiddleware(t *testing.T) {
	h := (&ops.Middleware{}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/x", nil))
	if rec.Code != http.StatusCreated {
		t.Errorf("status %d, want 201", rec.Code)
	}
}

type cloudError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestPanicRecovery(t *testing.T) {
	st := mustOpenStore(t)
	metrics := ops.NewMetrics(st)
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		note := galleon.AuditNoteFromContext(r.Context())
		note.Principal = &galleon.Principal{ObjectID: "u1", TenantID: "t1", Type: galleon.PrincipalUser}
		note.Route = "POST /panic"
		w.Header().Set("Content-Type", "text/plain")
		panic("kaboom")
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	srv := httptest.NewServer(newMiddleware(st, metrics).Wrap(mux))
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL+"/panic", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST /panic: %v (the connection should survive a handler panic)", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	reqID := resp.Header.Get("x-ms-request-id")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var ce cloudError
	if err := json.Unmarshal(body, &ce); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if ce.Error.Code != "InternalServerError" || reqID == "" || !strings.Contains(ce.Error.Message, reqID) {
		t.Errorf("CloudError = %+v, want code InternalServerError and a message naming request ID %q", ce.Error, reqID)
	}
	if strings.Contains(string(body), "kaboom") {
		t.Errorf("body %q leaks the panic value", body)
	}

	// The server keeps serving.
	resp, err = srv.Client().Get(srv.URL + "/ok")
	if err != nil {
		t.Fatalf("GET /ok after a panic: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "fine" {
		t.Errorf("GET /ok after a panic = %d %q, want 200 \"fine\"", resp.StatusCode, body)
	}

	// The panicked write is still audited and counted, as a failure.
	recs, err := st.ListAudit(context.Background(), galleon.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Status != 500 || recs[0].Result != "Failed" || recs[0].RequestID != reqID {
		t.Errorf("audit = %+v, want one Failed 500 record for request %s", recs, reqID)
	}
	if m := scrape(t, metrics); !strings.Contains(m, `galleon_http_requests_total{code="500",route="POST /panic"} 1`+"\n") {
		t.Errorf("metrics do not count the panic as a 500 on its route:\n%s", grep(m, "galleon_http_requests_total"))
	}
}

func TestPanicAfterWrite(t *testing.T) {
	h := newMiddleware(nil, nil).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "partial")
		panic("late")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	// Headers are gone; the middleware must not append a second body.
	if rec.Code != http.StatusAccepted || rec.Body.String() != "partial" {
		t.Errorf("response = %d %q, want 202 \"partial\" untouched", rec.Code, rec.Body.String())
	}
}

func TestAbortHandlerPanicPropagates(t *testing.T) {
	h := newMiddleware(nil, nil).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler re-panicked for net/http to abort the connection", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestAudit(t *testing.T) {
	const galleryID = "/subscriptions/sub1/resourceGroups/rg/providers/Microsoft.Compute/galleries/g"
	user := &galleon.Principal{ObjectID: "u1", TenantID: "t1", Type: galleon.PrincipalUser, AppID: "app1"}
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		principal  *galleon.Principal
		resourceID string
		status     int
		want       bool   // an audit record is written
		result     string // its Result
		wantRID    string // its ResourceID
		wantSub    string // its SubscriptionID
	}{
		{name: "PutSucceeded", method: http.MethodPut, path: galleryID, principal: user, resourceID: galleryID,
			status: 201, want: true, result: "Succeeded", wantRID: galleryID, wantSub: "sub1"},
		{name: "PatchAccepted", method: http.MethodPatch, path: galleryID, principal: user, resourceID: galleryID,
			status: 202, want: true, result: "Succeeded", wantRID: galleryID, wantSub: "sub1"},
		{name: "DeleteNotFound", method: http.MethodDelete, path: galleryID, principal: user, resourceID: galleryID,
			status: 404, want: true, result: "Failed", wantRID: galleryID, wantSub: "sub1"},
		{name: "PostForbidden", method: http.MethodPost, path: galleryID + "/listKeys", principal: user, resourceID: galleryID,
			status: 403, want: true, result: "Failed", wantRID: galleryID, wantSub: "sub1"},
		{name: "PutServerError", method: http.MethodPut, path: galleryID, principal: user, resourceID: galleryID,
			status: 500, want: true, result: "Failed", wantRID: galleryID, wantSub: "sub1"},
		{name: "PutBadRequest", method: http.MethodPut, path: galleryID, principal: user, resourceID: galleryID,
			status: 400, want: true, result: "Failed", wantRID: galleryID, wantSub: "sub1"},
		{name: "StatusJustBelowFailure", method: http.MethodPost, path: "/x", principal: user, resourceID: galleryID,
			status: 399, want: true, result: "Succeeded", wantRID: galleryID, wantSub: "sub1"},
		{name: "NoResourceIDUsesPath", method: http.MethodPost, path: "/subscriptions/sub2/resourceGroups/rg2",
			principal: user, status: 200, want: true, result: "Succeeded",
			wantRID: "/subscriptions/sub2/resourceGroups/rg2", wantSub: "sub2"},
		{name: "NonResourcePath", method: http.MethodPost, path: "/oauth2/token", principal: user, status: 200,
			want: true, result: "Succeeded", wantRID: "/oauth2/token", wantSub: ""},
		{name: "GetNotAudited", method: http.MethodGet, path: galleryID, principal: user, resourceID: galleryID, status: 200},
		{name: "HeadNotAudited", method: http.MethodHead, path: galleryID, principal: user, resourceID: galleryID, status: 200},
		{name: "OptionsNotAudited", method: http.MethodOptions, path: galleryID, principal: user, status: 204},
		{name: "UnauthenticatedWriteNotAudited", method: http.MethodPut, path: galleryID, resourceID: galleryID, status: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := mustOpenStore(t)
			h := newMiddleware(st, nil).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				note := galleon.AuditNoteFromContext(r.Context())
				note.Principal = tc.principal
				note.ResourceID = tc.resourceID
				note.Action = "Microsoft.Compute/galleries/write"
				w.WriteHeader(tc.status)
			}))
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.RemoteAddr = "203.0.113.7:51234"
			req.Header.Set("x-ms-correlation-request-id", "corr-1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			recs, err := st.ListAudit(context.Background(), galleon.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want {
				if len(recs) != 0 {
					t.Errorf("got %d audit records, want none: %+v", len(recs), recs[0])
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("got %d audit records, want exactly 1", len(recs))
			}
			got := recs[0]
			want := galleon.AuditRecord{
				ID: got.ID, Time: fixedNow, TenantID: "t1", SubscriptionID: tc.wantSub, PrincipalID: "u1",
				PrincipalType: galleon.PrincipalUser, AppID: "app1", Method: tc.method, Path: tc.path,
				ResourceID: tc.wantRID, Action: "Microsoft.Compute/galleries/write", Status: tc.status, Result: tc.result,
				RequestID: rec.Header().Get("x-ms-request-id"), CorrelationID: "corr-1", ClientIP: "203.0.113.7",
			}
			if got.ID == "" || !got.Time.Equal(want.Time) {
				t.Errorf("record ID %q time %v, want an ID and %v", got.ID, got.Time, want.Time)
			}
			got.Time = want.Time
			if *got != want {
				t.Errorf("audit record\n got %+v\nwant %+v", *got, want)
			}
		})
	}
}
