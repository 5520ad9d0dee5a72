package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// azureCLIPublicClient is the Azure CLI's public client: users sign in
// through it with the password grant, as `az login -u` does.
const azureCLIPublicClient = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// cliConfig is what `galleon login` saves (~/.galleon/config.json): where
// and as whom the everyday commands sign in. A service principal's config
// keeps its client secret, as az does, and is also a valid admin.json
// (--credentials); a user's keeps only the access token and its expiry.
type cliConfig struct {
	Endpoint       string    `json:"endpoint"`
	TenantID       string    `json:"tenantId"`
	SubscriptionID string    `json:"subscriptionId"`
	CAFile         string    `json:"caCertFile,omitempty"`
	ClientID       string    `json:"clientId,omitempty"`
	ClientSecret   string    `json:"clientSecret,omitempty"`
	Username       string    `json:"username,omitempty"`
	AccessToken    string    `json:"accessToken,omitempty"`
	ExpiresOn      time.Time `json:"expiresOn,omitzero"`
}

// configPath is $GALLEON_CONFIG, or ~/.galleon/config.json.
func configPath() (string, error) {
	if p := os.Getenv("GALLEON_CONFIG"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory for ~/.galleon/config.json: %w; set $GALLEON_CONFIG to a file path", err)
	}
	return filepath.Join(home, ".galleon", "config.json"), nil
}

// errNotSignedIn says how to sign in.
var errNotSignedIn = errors.New("not signed in: run `galleon login --endpoint URL --tenant T --client-id ID --client-secret-stdin` " +
	"(or --username U --password-stdin), or pass --credentials FILE (an admin.json)")

func loadCLIConfig(path string) (*cliConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s does not exist)", errNotSignedIn, path)
	} else if err != nil {
		return nil, err
	}
	var c cliConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s is not a galleon config: %w; run `galleon login` again", path, err)
	}
	if c.Endpoint == "" || c.TenantID == "" || (c.ClientSecret == "" && c.AccessToken == "") {
		return nil, fmt.Errorf("%s is incomplete (no endpoint, tenant or credential); run `galleon login` again", path)
	}
	return &c, nil
}

// saveCLIConfig writes c to path (file 0600 in a 0700 directory), replacing
// any previous file in one rename.
func saveCLIConfig(path string, c *cliConfig) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".config-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// clientFlags are the sign-in flags of the everyday commands.
type clientFlags struct {
	credentials  string
	subscription string
	quiet        bool
}

func (f *clientFlags) register(cmd *cobra.Command, progress bool) {
	cmd.PersistentFlags().StringVar(&f.credentials, "credentials", os.Getenv("GALLEON_CREDENTIALS"),
		"FILE: sign in with these credentials (admin.json format) instead of the saved login (default $GALLEON_CREDENTIALS)")
	cmd.PersistentFlags().StringVar(&f.subscription, "subscription", "", "subscription ID (default: the one galleon login picked, or the credentials')")
	if progress {
		cmd.PersistentFlags().BoolVarP(&f.quiet, "quiet", "q", false, "no animated progress bars: print a progress line every 10% instead")
	}
}

// client signs in as --credentials, else as the saved login, and returns
// the client and the subscription to work in.
func (f *clientFlags) client() (*apiClient, string, error) {
	var cl *apiClient
	if f.credentials != "" {
		var err error
		if cl, err = newAPIClient(f.credentials); err != nil {
			return nil, "", err
		}
	} else {
		path, err := configPath()
		if err != nil {
			return nil, "", err
		}
		cfg, err := loadCLIConfig(path)
		if err != nil {
			return nil, "", err
		}
		if cl, err = clientFromConfig(cfg); err != nil {
			return nil, "", err
		}
	}
	sub := cl.creds.SubscriptionID
	if f.subscription != "" {
		sub = f.subscription
	}
	if sub == "" {
		return nil, "", errors.New("no subscription chosen: pass --subscription ID (list them with `galleon login`, which picks one)")
	}
	return cl, sub, nil
}

// clientFromConfig makes a client that signs in as a saved login.
func clientFromConfig(cfg *cliConfig) (*apiClient, error) {
	cl, err := newClient(&AdminCredentials{Endpoint: cfg.Endpoint, TenantID: cfg.TenantID, SubscriptionID: cfg.SubscriptionID,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, CAFile: cfg.CAFile})
	if err != nil {
		return nil, err
	}
	if cfg.ClientSecret == "" {
		cl.token, cl.tokenExpiry, cl.username = cfg.AccessToken, cfg.ExpiresOn, cfg.Username
		if cl.tokenExpiry.IsZero() {
			cl.tokenExpiry = time.Unix(1, 0) // unknown: treat as expired
		}
	}
	return cl, nil
}

// readSecret reads the first line of r, for --client-secret-stdin and
// --password-stdin.
func readSecret(r io.Reader, flag string) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", flag, err)
	}
	s := strings.TrimRight(line, "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s: standard input is empty; pipe the secret in, e.g. `printf %%s \"$SECRET\" | galleon login ... %s`", flag, flag)
	}
	return s, nil
}

// subscription is one entry of GET /subscriptions.
type subscription struct {
	SubscriptionID string `json:"subscriptionId"`
	DisplayName    string `json:"displayName"`
	State          string `json:"state"`
}

func loginCommand() *cobra.Command {
	var endpoint, tenant, clientID, username, sub, caFile string
	var secretStdin, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a Galleon server as a service principal or a user",
		Long: `Sign in to a Galleon server and save where and as whom to ~/.galleon/config.json
($GALLEON_CONFIG overrides the path): the endpoint, tenant, subscription and CA
file, and for a service principal its client ID and secret (as az does). For a
user only the access token and its expiry are saved, never the password: sign
in again once the token expires.

The subscription is the only one the principal can see, or --subscription.`,
		Example: `  galleon login --endpoint https://127.0.0.1:8443 --tenant galleon.local --ca-file galleon-data/tls/ca.pem \
    --client-id "$APP_ID" --client-secret-stdin <<<"$SECRET"
  galleon login --endpoint https://galleon.example --tenant contoso.example --username alice@contoso.example --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			sp := clientID != "" || secretStdin
			user := username != "" || passwordStdin
			switch {
			case sp && user:
				return errors.New("sign in either as a service principal (--client-id, --client-secret-stdin) or as a user (--username, --password-stdin), not both")
			case sp && (clientID == "" || !secretStdin):
				return errors.New("a service principal signs in with --client-id ID and --client-secret-stdin (the secret on standard input)")
			case user && (username == "" || !passwordStdin):
				return errors.New("a user signs in with --username NAME and --password-stdin (the password on standard input)")
			case !sp && !user:
				return errors.New("say who signs in: --client-id ID --client-secret-stdin (service principal) or --username NAME --password-stdin (user)")
			}
			u, err := url.Parse(endpoint)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("--endpoint %q is not a server URL such as https://127.0.0.1:8443", endpoint)
			}
			endpoint = strings.TrimRight(endpoint, "/")
			if caFile != "" {
				if caFile, err = filepath.Abs(caFile); err != nil {
					return err
				}
			}
			cfg := &cliConfig{Endpoint: endpoint, TenantID: tenant, CAFile: caFile}
			flag := "--client-secret-stdin"
			if user {
				flag = "--password-stdin"
			}
			secret, err := readSecret(c.InOrStdin(), flag)
			if err != nil {
				return err
			}
			creds := &AdminCredentials{Endpoint: endpoint, TenantID: tenant, CAFile: caFile}
			if sp {
				creds.ClientID, creds.ClientSecret = clientID, secret
			}
			cl, err := newClient(creds)
			if err != nil {
				return err
			}
			who := "service principal " + clientID
			if sp {
				cfg.ClientID, cfg.ClientSecret = clientID, secret
				if err := cl.signIn(c.Context()); err != nil {
					return err
				}
			} else {
				who = username
				tok, exp, err := requestToken(c.Context(), cl.http, endpoint, tenant, url.Values{
					"grant_type": {"password"}, "client_id": {azureCLIPublicClient}, "username": {username}, "password": {secret},
				}, cl.clock())
				if err != nil {
					return fmt.Errorf("sign in as %s failed: %w", username, err)
				}
				if exp.IsZero() {
					exp = cl.clock().Add(time.Hour)
				}
				cl.token, cl.tokenExpiry, cl.username = tok, exp, username
				cfg.Username, cfg.AccessToken, cfg.ExpiresOn = username, tok, exp.UTC()
			}
			var subs struct{ Value []subscription }
			if err := cl.do(c.Context(), "GET", "/subscriptions?api-version=2022-12-01", nil, &subs); err != nil {
				return fmt.Errorf("list subscriptions: %w", err)
			}
			pick, err := pickSubscription(subs.Value, sub, who)
			if err != nil {
				return err
			}
			cfg.SubscriptionID = pick.SubscriptionID
			path, err := configPath()
			if err != nil {
				return err
			}
			if err := saveCLIConfig(path, cfg); err != nil {
				return err
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "Signed in to %s as %s (tenant %s).\n", endpoint, who, tenant)
			fmt.Fprintf(out, "Subscription: %s (%s)\n", pick.DisplayName, pick.SubscriptionID)
			if user {
				fmt.Fprintf(out, "Saved to %s; the sign-in is valid until %s, then run `galleon login` again.\n", path, cfg.ExpiresOn.Local().Format(time.RFC1123))
			} else {
				fmt.Fprintf(out, "Saved to %s (it holds the client secret: keep it private).\n", path)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoint, "endpoint", "", "server URL, e.g. https://127.0.0.1:8443 (required)")
	f.StringVar(&tenant, "tenant", "", "tenant ID or domain, e.g. galleon.local (required)")
	f.StringVar(&clientID, "client-id", "", "service principal: the application (client) ID")
	f.BoolVar(&secretStdin, "client-secret-stdin", false, "service principal: read the client secret from standard input")
	f.StringVar(&username, "username", "", "user: the user principal name, e.g. alice@galleon.local")
	f.BoolVar(&passwordStdin, "password-stdin", false, "user: read the password from standard input")
	f.StringVar(&sub, "subscription", "", "subscription ID or name (default: the only one the principal can see)")
	f.StringVar(&caFile, "ca-file", "", "PEM file of the CA to trust for the server's certificate (a private CA: DATA/tls/ca.pem)")
	cmd.MarkFlagRequired("endpoint")
	cmd.MarkFlagRequired("tenant")
	return cmd
}

// pickSubscription chooses want (an ID or name) among subs, or the only
// one there is.
func pickSubscription(subs []subscription, want, who string) (subscription, error) {
	if want != "" {
		for _, s := range subs {
			if strings.EqualFold(s.SubscriptionID, want) || s.DisplayName == want {
				return s, nil
			}
		}
		return subscription{}, fmt.Errorf("%s cannot see subscription %q (it sees %s); check the name or ask an Owner of it for a role assignment", who, want, listSubscriptions(subs))
	}
	switch len(subs) {
	case 0:
		return subscription{}, fmt.Errorf("%s signed in but can see no subscription: ask an Owner of one for a role assignment (e.g. Reader), then log in again", who)
	case 1:
		return subs[0], nil
	}
	return subscription{}, fmt.Errorf("%s can see %d subscriptions (%s): pick one with --subscription", who, len(subs), listSubscriptions(subs))
}

func listSubscriptions(subs []subscription) string {
	if len(subs) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range subs {
		parts = append(parts, fmt.Sprintf("%s %q", s.SubscriptionID, s.DisplayName))
	}
	return strings.Join(parts, ", ")
}

func logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the sign-in `galleon login` saved",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path, err := configPath()
			if err != nil {
				return err
			}
			err = os.Remove(path)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(c.OutOrStdout(), "Not signed in (%s does not exist).\n", path)
				return nil
			} else if err != nil {
				return fmt.Errorf("remove %s: %w", path, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "Signed out: removed %s.\n", path)
			return nil
		},
	}
}
