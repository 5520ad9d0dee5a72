package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiClient calls a Galleon server as the principal in a credentials file.
type apiClient struct {
	creds *AdminCredentials
	http  *http.Client
	token string
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
	return &apiClient{creds: creds, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// signIn gets an access token with the client-credentials grant.
func (c *apiClient) signIn(ctx context.Context) error {
	if c.token != "" {
		return nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.creds.ClientID},
		"client_secret": {c.creds.ClientSecret},
		"scope":         {c.creds.Endpoint + "/.default"},
	}
	req, err := http.NewRequestWithContext(ctx, "POST", c.creds.Endpoint+"/"+c.creds.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("sign in to %s: %w", c.creds.Endpoint, err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("sign in: unreadable reply (HTTP %d): %w", resp.StatusCode, err)
	}
	if out.AccessToken == "" {
		return fmt.Errorf("sign in as %s failed: %s: %s", c.creds.ClientID, out.Error, out.Description)
	}
	c.token = out.AccessToken
	return nil
}

// do sends a JSON request and decodes a JSON reply into out (if non-nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	if err := c.signIn(ctx); err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.creds.Endpoint+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: unreadable reply: %w", method, path, err)
		}
	}
	return nil
}
