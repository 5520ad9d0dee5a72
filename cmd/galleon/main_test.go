package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
)

// testServer is a `galleon serve` booted in-process on a free port.
type testServer struct {
	*Main
	cancel context.CancelFunc
	done   chan error
}

// mustStart boots a server on 127.0.0.1:0 with data in dir (a new temp dir
// if ""), and stops it when the test ends.
func mustStart(tb testing.TB, dir string) *testServer {
	tb.Helper()
	return mustStartWith(tb, dir, nil)
}

// mustStartWith is mustStart with a chance to change the configuration.
func mustStartWith(tb testing.TB, dir string, configure func(*Config)) *testServer {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	cfg := DefaultConfig()
	cfg.Data, cfg.Listen = dir, "127.0.0.1:0"
	if configure != nil {
		configure(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("GALLEON_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	m := &Main{Config: cfg, Logger: logger, Out: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		m.Close()
		tb.Fatalf("open: %v", err)
	}
	s := &testServer{Main: m, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- m.Run(ctx) }()
	tb.Cleanup(s.stop)
	return s
}

// stop shuts the server down and waits for it; calling it twice is fine.
func (s *testServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		panic("run: " + err.Error())
	}
	s.Close()
	s.cancel = nil
}

// httpClient trusts the server's private CA only.
func (s *testServer) httpClient(tb testing.TB) *http.Client {
	tb.Helper()
	pem, err := os.ReadFile(s.Admin.CAFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatal("CA file holds no certificate")
	}
	// Clone the default transport so HTTP/2 stays on: the Azure SDK sends
	// some $filter values unescaped, which only HTTP/2 carries intact.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// clientOptions point the Azure SDK at the server, as docs/sdk.md tells users.
func (s *testServer) clientOptions(tb testing.TB) policy.ClientOptions {
	return policy.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: s.BaseURL + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: s.BaseURL, Audience: s.BaseURL},
			},
		},
		Transport: s.httpClient(tb),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

func (s *testServer) armOptions(tb testing.TB) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: s.clientOptions(tb)}
}

func (s *testServer) credential(tb testing.TB, tenant, clientID, secret string) azcore.TokenCredential {
	tb.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: s.clientOptions(tb), DisableInstanceDiscovery: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

func (s *testServer) adminCredential(tb testing.TB) azcore.TokenCredential {
	return s.credential(tb, s.Admin.TenantID, s.Admin.ClientID, s.Admin.ClientSecret)
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func jsonMarshalForTest(v any) ([]byte, error) { return json.Marshal(v) }

func jsonUnmarshalForTest(b []byte, v any) error { return json.Unmarshal(b, v) }

func mustRequest(tb testing.TB, method, url, token, body string) *http.Request {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// mustGalleryImage creates resource group "rg" in loc, gallery "gal" and the
// Linux definition "img" in it, as the admin.
func (s *testServer) mustGalleryImage(t *testing.T, loc string) {
	t.Helper()
	ctx := context.Background()
	cred := s.adminCredential(t)
	opts := s.armOptions(t)
	rgs, _ := armresources.NewResourceGroupsClient(s.Admin.SubscriptionID, cred, opts)
	if _, err := rgs.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr(loc)}, nil); err != nil {
		t.Fatal(err)
	}
	galleries, _ := armcompute.NewGalleriesClient(s.Admin.SubscriptionID, cred, opts)
	defs, _ := armcompute.NewGalleryImagesClient(s.Admin.SubscriptionID, cred, opts)
	if p, err := galleries.BeginCreateOrUpdate(ctx, "rg", "gal", armcompute.Gallery{Location: to.Ptr(loc)}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	if p, err := defs.BeginCreateOrUpdate(ctx, "rg", "gal", "img", linuxImage(loc, "p", "o", "s"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
}
