package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// useConfig points GALLEON_CONFIG at a file in a new directory.
func useConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "galleon", "config.json")
	t.Setenv("GALLEON_CONFIG", path)
	t.Setenv("GALLEON_CREDENTIALS", "")
	return path
}

func readConfigFile(t *testing.T, path string) (cliConfig, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c cliConfig
	var raw map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return c, raw
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s mode = %v, want %v", path, got, want)
	}
}

// TestLoginCLI signs in with `galleon login` as the administrator service
// principal and as a password user, and checks what is saved, that other
// commands use it, expiry, logout, and the errors.
func TestLoginCLI(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	cfgPath := useConfig(t)
	login := []string{"login", "--endpoint", s.BaseURL + "/", "--tenant", s.Admin.TenantID, "--ca-file", s.Admin.CAFile}

	t.Run("ServicePrincipal", func(t *testing.T) {
		out, err := galleonCLI(t, s.Admin.ClientSecret+"\n", append(login, "--client-id", s.Admin.ClientID, "--client-secret-stdin")...)
		if err != nil {
			t.Fatalf("login: %v\n%s", err, out)
		}
		if !strings.Contains(out, s.Admin.SubscriptionID) {
			t.Errorf("login output names no subscription:\n%s", out)
		}
		c, _ := readConfigFile(t, cfgPath)
		want := cliConfig{Endpoint: s.BaseURL, TenantID: s.Admin.TenantID, SubscriptionID: s.Admin.SubscriptionID, CAFile: s.Admin.CAFile,
			ClientID: s.Admin.ClientID, ClientSecret: s.Admin.ClientSecret}
		if c != want {
			t.Errorf("config = %+v\nwant %+v", c, want)
		}
		checkMode(t, cfgPath, 0o600)
		checkMode(t, filepath.Dir(cfgPath), 0o700)
		// The saved login is also an admin.json.
		if _, err := newAPIClient(cfgPath); err != nil {
			t.Errorf("config is not a credentials file: %v", err)
		}
		out, err = galleonCLI(t, "", "usage")
		if err != nil || !strings.Contains(out, "Total: 0 replicas") {
			t.Errorf("usage after login: %v\n%s", err, out)
		}
	})

	t.Run("User", func(t *testing.T) {
		cl, err := newAPIClient(s.AdminFile)
		if err != nil {
			t.Fatal(err)
		}
		const password = "a long enough password"
		var bo struct{ ID string }
		if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+s.Admin.TenantID+"/users", map[string]any{"userPrincipalName": "bo@galleon.local", "displayName": "Bo", "password": password}, &bo); err != nil {
			t.Fatal(err)
		}
		// Without a role Bo sees no subscription.
		if _, err := galleonCLI(t, password+"\n", append(login, "--username", "bo@galleon.local", "--password-stdin")...); err == nil || !strings.Contains(err.Error(), "role assignment") {
			t.Fatalf("login without a role: %v", err)
		}
		ras, _ := armauthorization.NewRoleAssignmentsClient(s.Admin.SubscriptionID, s.adminCredential(t), s.armOptions(t))
		scope := "/subscriptions/" + s.Admin.SubscriptionID
		if _, err := ras.Create(ctx, scope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr(scope + "/providers/Microsoft.Authorization/roleDefinitions/" + galleon.ReaderRoleID), PrincipalID: to.Ptr(bo.ID),
		}}, nil); err != nil {
			t.Fatal(err)
		}
		out, err := galleonCLI(t, password+"\n", append(login, "--username", "bo@galleon.local", "--password-stdin")...)
		if err != nil {
			t.Fatalf("login: %v\n%s", err, out)
		}
		c, raw := readConfigFile(t, cfgPath)
		if c.Username != "bo@galleon.local" || c.AccessToken == "" || c.ClientSecret != "" || c.SubscriptionID != s.Admin.SubscriptionID || !c.ExpiresOn.After(time.Now()) {
			t.Errorf("user config = %+v", c)
		}
		if b, _ := json.Marshal(raw); strings.Contains(string(b), password) {
			t.Errorf("the config holds the password: %s", b)
		}
		checkMode(t, cfgPath, 0o600)
		if out, err := galleonCLI(t, "", "usage", "-o", "json"); err != nil || !strings.Contains(out, `"totals"`) {
			t.Errorf("usage as the user: %v\n%s", err, out)
		}

		// Once the token has expired the user is told to log in again.
		c.ExpiresOn = time.Now().Add(-time.Minute)
		if err := saveCLIConfig(cfgPath, &c); err != nil {
			t.Fatal(err)
		}
		if _, err := galleonCLI(t, "", "usage"); err == nil || !strings.Contains(err.Error(), "galleon login") || !strings.Contains(err.Error(), "bo@galleon.local") {
			t.Errorf("expired token: %v", err)
		}
	})

	t.Run("Logout", func(t *testing.T) {
		if out, err := galleonCLI(t, "", "logout"); err != nil || !strings.Contains(out, "removed") {
			t.Fatalf("logout: %v\n%s", err, out)
		}
		if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
			t.Errorf("config still there: %v", err)
		}
		if _, err := galleonCLI(t, "", "image", "versions", "-g", "rg", "-r", "g", "-i", "i"); err == nil || !strings.Contains(err.Error(), "galleon login") {
			t.Errorf("command after logout: %v", err)
		}
		// --credentials works without a login.
		if out, err := galleonCLI(t, "", "usage", "--credentials", s.AdminFile); err != nil || !strings.Contains(out, "Total:") {
			t.Errorf("usage --credentials: %v\n%s", err, out)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, stdin string
			args        []string
			want        string
		}{
			{"ErrWrongSecret", "not the secret\n", append(login, "--client-id", s.Admin.ClientID, "--client-secret-stdin"), "AADSTS"},
			{"ErrWrongPassword", "wrong password!\n", append(login, "--username", "bo@galleon.local", "--password-stdin"), "AADSTS50126"},
			{"ErrBoth", "x\n", append(login, "--client-id", "a", "--client-secret-stdin", "--username", "u", "--password-stdin"), "not both"},
			{"ErrNoSecretFlag", "", append(login, "--client-id", "a"), "--client-secret-stdin"},
			{"ErrEmptyStdin", "", append(login, "--client-id", s.Admin.ClientID, "--client-secret-stdin"), "standard input is empty"},
			{"ErrUntrustedCA", s.Admin.ClientSecret + "\n", []string{"login", "--endpoint", s.BaseURL, "--tenant", s.Admin.TenantID, "--client-id", s.Admin.ClientID, "--client-secret-stdin"}, "--ca-file"},
			{"ErrUnknownSubscription", s.Admin.ClientSecret + "\n", append(login, "--client-id", s.Admin.ClientID, "--client-secret-stdin", "--subscription", "nope"), `"nope"`},
			{"ErrEndpoint", "x\n", []string{"login", "--endpoint", "localhost:8443", "--tenant", "t", "--client-id", "a", "--client-secret-stdin"}, "not a server URL"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, err := galleonCLI(t, tc.stdin, tc.args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to mention %q\n%s", err, tc.want, out)
				}
			})
		}
		if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
			t.Errorf("a failed login wrote the config: %v", err)
		}
	})
}

func TestPickSubscription(t *testing.T) {
	a := subscription{SubscriptionID: "11111111-1111-1111-1111-111111111111", DisplayName: "prod"}
	b := subscription{SubscriptionID: "22222222-2222-2222-2222-222222222222", DisplayName: "dev"}
	for _, tc := range []struct {
		name string
		subs []subscription
		want string
		pick string
		err  string
	}{
		{"OnlyOne", []subscription{a}, "", a.SubscriptionID, ""},
		{"ByID", []subscription{a, b}, strings.ToUpper(b.SubscriptionID), b.SubscriptionID, ""},
		{"ByName", []subscription{a, b}, "prod", a.SubscriptionID, ""},
		{"ErrNone", nil, "", "", "no subscription"},
		{"ErrMany", []subscription{a, b}, "", "", "--subscription"},
		{"ErrUnknown", []subscription{a}, "test", "", "cannot see"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickSubscription(tc.subs, tc.want, "me")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.SubscriptionID != tc.pick {
				t.Fatalf("got %+v, %v; want %s", got, err, tc.pick)
			}
		})
	}
}
