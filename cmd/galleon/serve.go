package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/arm"
	"github.com/galleonhq/galleon/authz"
	"github.com/galleonhq/galleon/blobapi"
	"github.com/galleonhq/galleon/compute"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/gc"
	"github.com/galleonhq/galleon/identity"
	"github.com/galleonhq/galleon/jobs"
	"github.com/galleonhq/galleon/ops"
	"github.com/galleonhq/galleon/policy"
	"github.com/galleonhq/galleon/replication"
	"github.com/galleonhq/galleon/storage"
	"github.com/galleonhq/galleon/store/sqlite"
)

// AdminCredentials is the content of DATA/admin.json: what a client needs to
// sign in as the installation's administrator.
type AdminCredentials struct {
	Endpoint       string `json:"endpoint"`
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	CAFile         string `json:"caCertFile"`
}

// Main is one running `galleon serve`: tests boot it on 127.0.0.1:0.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Out receives the start-up banner (default os.Stdout).
	Out io.Writer

	// Set by Open.
	BaseURL   string
	Admin     *AdminCredentials
	AdminFile string

	// Accounts are the regions' storage accounts; Gallery the gallery rules.
	Accounts *storage.Accounts
	Gallery  *gallery.Service

	store    *sqlite.Store
	listener net.Listener
	http     *http.Server
	worker   *jobs.Worker
	identity *identity.Service
	ready    chan struct{}
}

// Open prepares everything Run serves: data directory, store, first-start
// setup, certificates, listener and handlers.
func (m *Main) Open(ctx context.Context) error {
	c := &m.Config
	if err := c.Validate(); err != nil {
		return err
	}
	if m.Logger == nil {
		m.Logger = newLogger(os.Stderr, c.Log.Level, c.Log.Format)
	}
	if m.Out == nil {
		m.Out = os.Stdout
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(c.Data, "galleon.db"))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	m.store = st

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another galleon running? pick another address with --listen)", c.Listen, err)
	}
	m.listener = ln
	m.BaseURL = publicURL(c.PublicURL, ln.Addr().(*net.TCPAddr))

	tlsCert, err := ensureCertificates(tlsPaths(c.Data), certNames(m.BaseURL, c.HostNames), time.Now())
	if err != nil {
		return err
	}

	m.AdminFile = filepath.Join(c.Data, "admin.json")
	_, statErr := os.Stat(m.AdminFile)
	boot, err := identity.Bootstrap(ctx, st, identity.BootstrapOptions{
		TenantDomain: c.TenantDomain, TenantName: c.TenantName, SubscriptionName: c.SubscriptionName,
		RotateAdminSecret: errors.Is(statErr, os.ErrNotExist),
	})
	if err != nil {
		return fmt.Errorf("first-start setup: %w", err)
	}
	if err := m.writeAdminFile(boot); err != nil {
		return err
	}

	m.identity = &identity.Service{
		Store:         st,
		BaseURL:       m.BaseURL,
		Audiences:     audiences(m.BaseURL),
		TokenLifetime: c.TokenLifetime,
		Logger:        m.Logger,
	}
	if err := m.identity.Open(ctx); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	m.Accounts = &storage.Accounts{Dir: filepath.Join(c.Data, "storage"), Regions: c.Regions}
	computeSvc := &compute.Service{Store: st, Accounts: m.Accounts, Regions: c.Regions}
	sasKey, err := loadOrCreateKey(filepath.Join(c.Data, "keys", "blob-sas.key"))
	if err != nil {
		return err
	}
	blobs := &blobapi.Server{Store: st, Blocks: computeSvc.BlobStore, Key: sasKey, Logger: m.Logger}
	computeSvc.BlobContent = blobs.Manifest
	blobs.AccountRegion = func(ctx context.Context, account string) (string, error) {
		r, err := storage.FindUserAccount(ctx, st, account)
		if err != nil {
			return "", err
		}
		return r.Location, nil
	}
	m.Gallery = &gallery.Service{Store: st, Regions: c.Regions, Limits: c.Limits, ComputeDisks: computeSvc.StoredDisks}
	// Azure Policy vets every gallery, image definition and version write.
	policyEngine := &policy.Engine{Store: st, Logger: m.Logger}
	m.Gallery.Check = policyEngine.Check
	replicator := &replication.Replicator{Store: st, Gallery: m.Gallery, Accounts: m.Accounts, Regions: c.Regions, Logger: m.Logger,
		BlobContent: blobs.Manifest}
	armServer := &arm.Server{
		Store:   st,
		Auth:    m.identity,
		Authz:   &authz.Authorizer{Store: st, Delegations: &authz.ResourceDelegations{Store: st}},
		Gallery: m.Gallery,
		Compute: computeSvc,
		Policy:  policyEngine,
		SignBlobURL: func(account, container, blob, perms string, expiry time.Time) string {
			return blobs.SignURL(m.BaseURL, account, container, blob, perms, expiry)
		},
		SignContainerSAS: blobs.ContainerSAS,
		Replication:      replicator,
		BaseURL:          m.BaseURL,
		Audience:         m.BaseURL + "/",
		Regions:          c.Regions,
		Logger:           m.Logger,
	}
	handlers := map[string]jobs.Handler{}
	for k, h := range armServer.JobHandlers() {
		handlers[k] = h
	}
	for k, h := range replicator.Handlers() {
		handlers[k] = h
	}
	host, _ := os.Hostname()
	m.worker = jobs.New(st, handlers, fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8]), m.Logger)
	m.worker.Lease = c.JobLease
	armServer.Notify = m.worker.Notify
	replicator.Notify = m.worker.Notify
	armServer.Init()

	metrics := ops.NewMetrics(st)
	mw := &ops.Middleware{Audit: st, Logger: m.Logger, Metrics: metrics}
	top := &router{
		arm:      armServer,
		identity: m.identity.Handler(),
		admin:    m.identity.AdminHandler(),
		graph:    m.identity.GraphHandler(),
		realm:    m.identity.UserRealmHandler(),
		blobs:    blobs,
		health: &ops.Health{Ready: func(ctx context.Context) error {
			_, err := st.ListTenants(ctx)
			return err
		}},
		metrics: metrics.Handler(),
	}
	m.http = &http.Server{
		Handler:           mw.Wrap(top),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.ready = make(chan struct{})
	return nil
}

func (m *Main) writeAdminFile(boot *identity.BootstrapResult) error {
	caFile := tlsPaths(m.Config.Data).CA
	creds := &AdminCredentials{
		Endpoint: m.BaseURL, TenantID: boot.Tenant.ID, SubscriptionID: boot.Subscription.ID,
		ClientID: boot.Application.AppID, CAFile: caFile,
	}
	if boot.ClientSecret == "" {
		old, err := readCredentials(m.AdminFile)
		if err != nil {
			return fmt.Errorf("read %s: %w (delete it to have a new administrator secret made)", m.AdminFile, err)
		}
		creds.ClientSecret = old.ClientSecret
		if *old == *creds {
			m.Admin = creds
			return nil
		}
	} else {
		creds.ClientSecret = boot.ClientSecret
	}
	b, _ := json.MarshalIndent(creds, "", "  ")
	tmp := m.AdminFile + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write admin credentials: %w", err)
	}
	if err := os.Rename(tmp, m.AdminFile); err != nil {
		return fmt.Errorf("write admin credentials: %w", err)
	}
	m.Admin = creds
	return nil
}

func readCredentials(path string) (*AdminCredentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c AdminCredentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	return &c, nil
}

// Run serves until ctx ends, then shuts down gracefully: stop accepting,
// drain requests (up to 20 s), stop the workers, close the store.
func (m *Main) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := m.http.ServeTLS(m.listener, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	g.Go(func() error { return m.worker.Run(wctx) })
	// Garbage collection of unreferenced disk blocks, stopped with the workers.
	collector := &gc.Collector{Store: m.store, Accounts: m.Accounts, Grace: m.Config.GC.Grace, Interval: m.Config.GC.Interval, Logger: m.Logger}
	g.Go(func() error { return collector.Run(wctx) })
	g.Go(func() error {
		<-gctx.Done()
		m.Logger.Info("shutting down: draining requests and stopping workers")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		err := m.http.Shutdown(sctx)
		stopWorker()
		return err
	})
	close(m.ready)
	m.Logger.Info("serving", "url", m.BaseURL, "data", m.Config.Data)
	err := g.Wait()
	stopWorker()
	m.Logger.Info("stopped", "err", err)
	return err
}

// Close releases the store. Call it after Run returns.
func (m *Main) Close() error {
	if m.store != nil {
		return m.store.Close()
	}
	return nil
}

func publicURL(configured string, addr *net.TCPAddr) string {
	if configured != "" {
		return strings.TrimSuffix(configured, "/")
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

func certNames(base string, extra []string) []string {
	names := []string{}
	if i := strings.Index(base, "://"); i >= 0 {
		h := base[i+3:]
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		names = append(names, strings.Trim(h, "[]"))
	}
	names = append(names, "127.0.0.1", "::1", "localhost")
	return append(names, extra...)
}

// audiences are the token audiences Galleon accepts: its own URL (with and
// without the trailing slash az adds) and the public-cloud ARM audiences, so
// clients configured for Azure's identifiers also work.
func audiences(base string) []string {
	return []string{base + "/", base, base + "/graph/", "https://management.core.windows.net/", "https://management.azure.com/"}
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// router sends each request to its surface by the first path segments.
type router struct {
	arm      http.Handler
	identity http.Handler
	admin    http.Handler
	graph    http.Handler
	realm    http.Handler
	blobs    http.Handler
	health   http.Handler
	metrics  http.Handler
}

var armRoots = map[string]bool{"subscriptions": true, "providers": true, "tenants": true, "metadata": true}
var identitySeconds = map[string]bool{"v2.0": true, "oauth2": true, "discovery": true, "adminconsent": true}

func (t *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.FieldsFunc(r.URL.Path, func(c rune) bool { return c == '/' })
	first, second := "", ""
	if len(segs) > 0 {
		first = strings.ToLower(segs[0])
	}
	if len(segs) > 1 {
		second = strings.ToLower(segs[1])
	}
	note := galleon.AuditNoteFromContext(r.Context())
	label := func(s string) {
		if note != nil {
			note.Route = r.Method + " " + s
		}
	}
	switch {
	case armRoots[first]:
		label("arm (unmatched)")
		t.arm.ServeHTTP(w, r)
	case first == "healthz" || first == "readyz":
		label("/" + first)
		t.health.ServeHTTP(w, r)
	case first == "metrics":
		label("/metrics")
		t.metrics.ServeHTTP(w, r)
	case first == "admin":
		label("/admin")
		t.admin.ServeHTTP(w, r)
	case first == "v1.0":
		label("/v1.0 (graph)")
		t.graph.ServeHTTP(w, r)
	case second == "userrealm":
		label("/{tenant}/UserRealm")
		t.realm.ServeHTTP(w, r)
	case identitySeconds[second]:
		label("/{tenant}/" + second)
		t.identity.ServeHTTP(w, r)
	case len(segs) >= 3:
		// Blob data plane: /{account}/{container}/{blob...}, SAS-authorized.
		label("/{account}/{container}/{blob}")
		t.blobs.ServeHTTP(w, r)
	default:
		label("(no surface)")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":"NotFound","message":"Nothing is served at %s. ARM is under /subscriptions, /providers and /tenants; sign-in under /{tenant}/oauth2/v2.0/token."}}`+"\n", jsonEscape(r.URL.Path))
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// loadOrCreateKey reads a 32-byte secret key, creating it (mode 0600) on
// first start.
func loadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) == 32 {
		return b, nil
	} else if err == nil {
		return nil, fmt.Errorf("%s holds %d bytes, not a 32-byte key; delete it to have a new one made (outstanding SAS URLs stop working)", path, len(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, err
	}
	return key, os.Rename(tmp, path)
}
