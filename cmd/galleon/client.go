package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiClient calls a Galleon server as the principal in a credentials file,
// or as the one `galleon login` signed in (login.go).
type apiClient struct {
	creds *AdminCredentials
	http  *http.Client
	token string

	// tokenExpiry is when token stops working (zero: unknown, never
	// refreshed). A client with a secret signs in again before then.
	tokenExpiry time.Time
	// username is set for a signed-in user, who has no secret: once the
	// token expires the user must run `galleon login` again.
	username string
	// transfer is http without an overall timeout, for streaming disks;
	// cancel its requests through their context.
	transfer *http.Client
	// now is the clock token expiry is judged by (time.Now if nil).
	now func() time.Time
}

// defaultCredentialsFile is where `galleon serve` writes the administrator's
// credentials with the default data directory.
func defaultCredentialsFile() string {
	if f := os.Getenv("GALLEON_CREDENTIALS"); f != "" {
		return f
	}
	return "./galleon-data/admin.json"
}

func newAPIClient(credFile string) (*apiClient, error) {
	creds, err := readCredentials(credFile)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w (start `galleon serve` or pass --credentials FILE)", err)
	}
	for field, v := range map[string]string{"endpoint": creds.Endpoint, "tenantId": creds.TenantID, "clientId": creds.ClientID, "clientSecret": creds.ClientSecret} {
		if v == "" {
			return nil, fmt.Errorf("credentials %s: %q is missing", credFile, field)
		}
	}
	return newClient(creds)
}

// newClient makes a client for creds, trusting creds.CAFile (if set) on
// top of the system's certificate authorities. It does not sign in.
func newClient(creds *AdminCredentials) (*apiClient, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if creds.CAFile != "" {
		pem, err := os.ReadFile(creds.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate %s: %w", creds.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", creds.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &apiClient{
		creds:    creds,
		http:     &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		transfer: &http.Client{Transport: tr},
	}, nil
}

func (c *apiClient) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// signIn gets an access token with the client-credentials grant, unless
// the client holds one that is valid for at least another minute.
func (c *apiClient) signIn(ctx context.Context) error {
	if c.token != "" && (c.tokenExpiry.IsZero() || c.clock().Before(c.tokenExpiry.Add(-time.Minute))) {
		return nil
	}
	if c.creds.ClientSecret == "" {
		who := c.username
		if who == "" {
			who = "the signed-in user"
		}
		return fmt.Errorf("the sign-in of %s to %s expired at %s: run `galleon login --endpoint %s --tenant %s --username %s --password-stdin` again",
			who, c.creds.Endpoint, c.tokenExpiry.Local().Format(time.RFC1123), c.creds.Endpoint, c.creds.TenantID, who)
	}
	tok, exp, err := requestToken(ctx, c.http, c.creds.Endpoint, c.creds.TenantID, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.creds.ClientID},
		"client_secret": {c.creds.ClientSecret},
	}, c.clock())
	if err != nil {
		return fmt.Errorf("sign in as %s failed: %w", c.creds.ClientID, err)
	}
	c.token, c.tokenExpiry = tok, exp
	return nil
}

// requestToken posts form (plus the scope of endpoint's API) to the
// tenant's token endpoint and returns the access token and its expiry.
func requestToken(ctx context.Context, hc *http.Client, endpoint, tenant string, form url.Values, now time.Time) (string, time.Time, error) {
	form.Set("scope", endpoint+"/.default")
	req, err := http.NewRequestWithContext(ctx, "POST", endpoint+"/"+url.PathEscape(tenant)+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", time.Time{}, transportError(endpoint, err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", time.Time{}, fmt.Errorf("unreadable reply from %s (HTTP %d): %w; is --endpoint a Galleon server?", endpoint, resp.StatusCode, err)
	}
	if out.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("%s: %s", out.Error, out.Description)
	}
	var exp time.Time
	if out.ExpiresIn > 0 {
		exp = now.Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return out.AccessToken, exp, nil
}

// transportError explains an untrusted server certificate, the usual
// first-use failure against a server with a private CA.
func transportError(endpoint string, err error) error {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknown) || errors.As(err, &verify) {
		return fmt.Errorf("%w: the TLS certificate of %s is not trusted; pass the server's CA certificate (DATA/tls/ca.pem) with --ca-file to `galleon login`", err, endpoint)
	}
	return err
}

// armError is an error reply of the server: ARM's CloudError when it has
// one, the status and body otherwise.
type armError struct {
	Status  int
	Code    string
	Message string
	Body    string // the reply when it was not a CloudError
	Method  string
	Path    string
}

func (e *armError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.Code)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// statusOf returns the HTTP status of an armError in err's chain, else 0.
func statusOf(err error) int {
	var e *armError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func newARMError(method, path string, status int, data []byte) *armError {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
		return &armError{Status: status, Code: e.Error.Code, Message: e.Error.Message, Method: method, Path: path}
	}
	return &armError{Status: status, Body: strings.TrimSpace(string(data)), Method: method, Path: path}
}

// do sends a JSON request and decodes a JSON reply into out (if non-nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.call(ctx, method, path, in, out)
	return err
}

// call is do that also returns the reply's headers (Azure-AsyncOperation).
// path may be a whole URL the server handed out (an operation's status):
// only its path and query are used, always against the signed-in endpoint,
// so the token never goes anywhere else.
func (c *apiClient) call(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	if err := c.signIn(ctx); err != nil {
		return nil, err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, transportError(c.creds.Endpoint, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		return nil, newARMError(method, path, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: unreadable reply: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// stream sends a bodiless request with extra headers and returns the open
// reply for the caller to read and close; error replies become armError.
// It has no overall timeout: ctx bounds it.
func (c *apiClient) stream(ctx context.Context, method, path string, hdr http.Header) (*http.Response, error) {
	if err := c.signIn(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.transfer.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, transportError(c.creds.Endpoint, err))
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newARMError(method, path, resp.StatusCode, data)
	}
	return resp, nil
}

// url resolves a path, or the path and query of a whole URL, against the
// endpoint.
func (c *apiClient) url(path string) string {
	if u, err := url.Parse(path); err == nil && u.IsAbs() {
		path = u.RequestURI()
	}
	return c.creds.Endpoint + path
}
