package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAzCLI drives the real az CLI (Debian azure-cli 2.45) against a Galleon
// booted in-process, through the directory `galleon az-setup` writes: every
// az call sources its env.sh, as a user would.
func TestAzCLI(t *testing.T) {
	if os.Getenv("GALLEON_TEST_AZ") != "1" {
		t.Skip("set GALLEON_TEST_AZ=1 to run the az CLI end-to-end test (needs az and bash on PATH)")
	}
	for _, tool := range []string{"az", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("GALLEON_TEST_AZ=1 but %s is not on PATH: %v", tool, err)
		}
	}
	ctx := t.Context()
	m := azTestMain(t)
	creds := m.Admin
	rgID := "/subscriptions/" + creds.SubscriptionID + "/resourceGroups/rg1"

	// az-setup without --login prints the commands still to run.
	dir := filepath.Join(t.TempDir(), "az")
	var out bytes.Buffer
	setup := &azSetup{CredFile: m.AdminFile, Dir: dir, CloudName: "Galleon", Out: &out}
	if err := setup.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"source " + filepath.Join(dir, "env.sh"), "az login --service-principal -u " + creds.ClientID, "--tenant " + creds.TenantID} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("az-setup output lacks %q:\n%s", want, out.String())
		}
	}
	admin := azShell{t: t, dir: dir}

	var subs []struct {
		ID, TenantID, CloudName string
		IsDefault               bool
	}
	admin.json(&subs, "login", "--service-principal", "-u", creds.ClientID, "--password="+creds.ClientSecret, "--tenant", creds.TenantID)
	if len(subs) != 1 || subs[0].ID != creds.SubscriptionID || subs[0].TenantID != creds.TenantID || subs[0].CloudName != "Galleon" || !subs[0].IsDefault {
		t.Fatalf("az login listed %+v; want only subscription %s of tenant %s in cloud Galleon", subs, creds.SubscriptionID, creds.TenantID)
	}
	admin.ok("account", "set", "-s", creds.SubscriptionID)

	type group struct {
		ID, Name, Location string
		Properties         struct{ ProvisioningState string }
	}
	var g group
	admin.json(&g, "group", "create", "-n", "rg1", "-l", "eastus")
	if g.Name != "rg1" || g.Location != "eastus" || g.Properties.ProvisioningState != "Succeeded" || !strings.EqualFold(g.ID, rgID) {
		t.Errorf("group create returned %+v", g)
	}
	var groups []group
	admin.json(&groups, "group", "list")
	if !slices.ContainsFunc(groups, func(g group) bool { return g.Name == "rg1" }) {
		t.Errorf("group list = %+v; want rg1 in it", groups)
	}
	g = group{}
	admin.json(&g, "group", "show", "-n", "rg1")
	if !strings.EqualFold(g.ID, rgID) || g.Location != "eastus" {
		t.Errorf("group show returned %+v; want id %s in eastus", g, rgID)
	}
	azAssertGroupExists(t, admin, "rg1", true)
	var resources []struct{ ID string }
	admin.json(&resources, "resource", "list", "-g", "rg1") // sends $filter=resourceGroup eq 'rg1'
	if len(resources) != 0 {
		t.Errorf("resource list -g rg1 = %+v; want none", resources)
	}

	// A second service principal, made through the admin API, gets Reader
	// on rg1; az finds it in Microsoft Graph by its appId.
	cl, err := newAPIClient(m.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/admin/v1/tenants/" + creds.TenantID
	var app struct{ ID, AppID string }
	if err := cl.do(ctx, "POST", prefix+"/applications", map[string]any{"displayName": "az-test-reader"}, &app); err != nil {
		t.Fatal(err)
	}
	var sp struct{ ID string }
	if err := cl.do(ctx, "POST", prefix+"/servicePrincipals", map[string]any{"appId": app.AppID}, &sp); err != nil {
		t.Fatal(err)
	}
	var secret struct{ SecretText string }
	if err := cl.do(ctx, "POST", prefix+"/applications/"+app.ID+"/secrets", map[string]any{}, &secret); err != nil {
		t.Fatal(err)
	}
	if app.AppID == "" || sp.ID == "" || secret.SecretText == "" {
		t.Fatalf("admin API returned app %+v, service principal %+v, secret set %v", app, sp, secret.SecretText != "")
	}

	type assignment struct {
		PrincipalID, PrincipalType, RoleDefinitionName, RoleDefinitionID, Scope string
	}
	var created assignment
	admin.json(&created, "role", "assignment", "create", "--assignee", app.AppID, "--role", "Reader", "--scope", rgID)
	if created.PrincipalID != sp.ID || !strings.EqualFold(created.Scope, rgID) {
		t.Errorf("role assignment create returned %+v; want principal %s at %s", created, sp.ID, rgID)
	}
	var assignments []struct {
		assignment
		PrincipalName string
	}
	admin.json(&assignments, "role", "assignment", "list", "--scope", rgID)
	if !slices.ContainsFunc(assignments, func(a struct {
		assignment
		PrincipalName string
	}) bool {
		// principalName comes from Graph's directoryObjects/getByIds.
		return a.PrincipalID == sp.ID && a.RoleDefinitionName == "Reader" && strings.EqualFold(a.Scope, rgID) && a.PrincipalName == app.AppID
	}) {
		t.Errorf("role assignment list --scope %s = %+v; want Reader for %s", rgID, assignments, sp.ID)
	}

	// The second principal, set up with --login, may read rg1 but not
	// create groups.
	readerCreds := *creds
	readerCreds.ClientID, readerCreds.ClientSecret = app.AppID, secret.SecretText
	readerFile := azWriteJSON(t, &readerCreds)
	readerDir := filepath.Join(t.TempDir(), "az")
	if err := (&azSetup{CredFile: readerFile, Dir: readerDir, Login: true, Out: io.Discard}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	reader := azShell{t: t, dir: readerDir}
	g = group{}
	reader.json(&g, "group", "show", "-n", "rg1")
	if !strings.EqualFold(g.ID, rgID) {
		t.Errorf("group show as Reader returned %+v", g)
	}
	if stderr := reader.fails("group", "create", "-n", "rg2", "-l", "eastus"); !strings.Contains(stderr, "AuthorizationFailed") {
		t.Errorf("group create as Reader of rg1 should fail with AuthorizationFailed; az said:\n%s", stderr)
	}

	// A user signs in with a password (MSAL's user-realm lookup, sent to
	// port 443, must be skipped) and is seen by Graph as signed in.
	upn, password := "alice@"+m.Config.TenantDomain, "correct horse battery staple 42"
	if err := cl.do(ctx, "POST", prefix+"/users", map[string]any{"userPrincipalName": upn, "displayName": "Alice", "password": password}, nil); err != nil {
		t.Fatal(err)
	}
	reader.ok("login", "-u", upn, "-p", password, "--tenant", creds.TenantID, "--allow-no-subscriptions")
	var me struct{ UserPrincipalName string }
	reader.json(&me, "ad", "signed-in-user", "show")
	if !strings.EqualFold(me.UserPrincipalName, upn) {
		t.Errorf("ad signed-in-user show returned %+v; want %s", me, upn)
	}

	// A wrong secret: az-setup --login names the sign-in step and shows
	// AAD's error, but not the secret.
	badCreds := *creds
	badCreds.ClientSecret = "not-the-secret"
	err = (&azSetup{CredFile: azWriteJSON(t, &badCreds), Dir: filepath.Join(t.TempDir(), "az"), Login: true, Out: io.Discard}).Run(ctx)
	switch {
	case err == nil:
		t.Error("az-setup --login with a wrong secret succeeded")
	case !strings.Contains(err.Error(), "sign in") || !strings.Contains(err.Error(), "AADSTS7000215"):
		t.Errorf("az-setup --login with a wrong secret: got %v; want the sign-in step and AADSTS7000215", err)
	case strings.Contains(err.Error(), badCreds.ClientSecret):
		t.Errorf("the error shows the secret: %v", err)
	}

	// Debian's SDK has no compute 2022-11-01; the shim makes az ask for
	// 2022-08-01, so the request reaches the server whatever it answers.
	if _, stderr, _ := admin.run("vm", "list", "--debug"); !strings.Contains(stderr, "Microsoft.Compute/virtualMachines?api-version=2022-08-01") {
		t.Errorf("az vm list did not send api-version 2022-08-01:\n%s", azGrep(stderr, "ERROR", "api-version="))
	}

	admin.ok("group", "delete", "-n", "rg1", "--yes")
	azAssertGroupExists(t, admin, "rg1", false)
}

// TestAzSetupFiles checks what az-setup writes before it runs az: the CA
// bundle, the shim, and an env.sh a shell can source.
func TestAzSetupFiles(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not on PATH")
	}
	data := t.TempDir()
	ca := filepath.Join(data, "tls", "ca.pem")
	if _, err := ensureCertificates(tlsPaths(data), []string{"127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	creds := azWriteJSON(t, &AdminCredentials{Endpoint: "https://Gallery.Example:8443", TenantID: "t", ClientID: "c", CAFile: ca})
	dir := filepath.Join(t.TempDir(), "it's here") // a quote and a space
	s := &azSetup{CredFile: creds, Dir: dir}
	c, err := s.credentials()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.writeFiles(c); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(ca)
	bundle, _ := os.ReadFile(filepath.Join(dir, "ca-bundle.pem"))
	if !bytes.HasSuffix(bundle, caPEM) {
		t.Error("ca-bundle.pem does not end with Galleon's CA")
	}
	if shim, _ := os.ReadFile(filepath.Join(dir, "python", "sitecustomize.py")); !bytes.Equal(shim, azShim) {
		t.Error("python/sitecustomize.py is not the shim")
	}
	cmd := exec.Command(bash, "-c", `. "$1" && printf '%s\n' "$AZURE_CONFIG_DIR" "$REQUESTS_CA_BUNDLE" "$PYTHONPATH" "$AZ_LOCAL_AUTHORITY_HOSTS"`, "_", filepath.Join(dir, "env.sh"))
	cmd.Env = append(os.Environ(), "PYTHONPATH=/mine")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("source env.sh: %v", err)
	}
	want := strings.Join([]string{filepath.Join(dir, "azure"), filepath.Join(dir, "ca-bundle.pem"), filepath.Join(dir, "python") + ":/mine", "gallery.example"}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("env.sh exports\n%s\nwant\n%s", got, want)
	}
}

// TestAzSetupErrors checks that bad input is refused before az runs.
func TestAzSetupErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		creds *AdminCredentials
		want  string
	}{
		"ErrHTTP":      {&AdminCredentials{Endpoint: "http://127.0.0.1:8443", TenantID: "t", ClientID: "c", CAFile: "ca.pem"}, "must be an https URL"},
		"ErrNoCA":      {&AdminCredentials{Endpoint: "https://127.0.0.1:8443", TenantID: "t", ClientID: "c"}, `"caCertFile" is missing`},
		"ErrCAMissing": {&AdminCredentials{Endpoint: "https://127.0.0.1:8443", TenantID: "t", ClientID: "c", CAFile: filepath.Join(dir, "nope.pem")}, "read Galleon's CA certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			// "true" stands in for az: these must fail before it is run.
			s := &azSetup{CredFile: azWriteJSON(t, tc.creds), Dir: filepath.Join(t.TempDir(), "az"), AZ: "true", Out: io.Discard}
			err := s.Run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// azTestMain boots Galleon on 127.0.0.1:0 under t.TempDir() and stops it
// when the test ends.
func azTestMain(tb testing.TB) *Main {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Data = tb.TempDir()
	cfg.Listen = "127.0.0.1:0"
	m := &Main{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		m.Close()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
		m.Close()
	})
	return m
}

// azShell runs az in a shell that has sourced DIR/env.sh.
type azShell struct {
	t   *testing.T
	dir string
}

func (a azShell) run(args ...string) (stdout, stderr string, err error) {
	a.t.Helper()
	script := `. "$1" && shift && exec az "$@"`
	cmd := exec.CommandContext(a.t.Context(), "bash", append([]string{"-c", script, "_", filepath.Join(a.dir, "env.sh")}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// json runs az with -o json and decodes its output into v.
func (a azShell) json(v any, args ...string) {
	a.t.Helper()
	out, stderr, err := a.run(append(args, "-o", "json")...)
	if err != nil {
		a.t.Fatalf("az %s: %v\n%s", azRedact(args), err, stderr)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("az %s: output is not the expected JSON: %v\n%s", azRedact(args), err, out)
	}
}

func (a azShell) ok(args ...string) {
	a.t.Helper()
	if _, stderr, err := a.run(args...); err != nil {
		a.t.Fatalf("az %s: %v\n%s", azRedact(args), err, stderr)
	}
}

// fails runs az, expects it to fail and returns its stderr.
func (a azShell) fails(args ...string) string {
	a.t.Helper()
	_, stderr, err := a.run(args...)
	if err == nil {
		a.t.Errorf("az %s succeeded; want a failure", azRedact(args))
	}
	return stderr
}

func azAssertGroupExists(t *testing.T, a azShell, name string, want bool) {
	t.Helper()
	var got bool
	a.json(&got, "group", "exists", "-n", name)
	if got != want {
		t.Errorf("az group exists -n %s = %v; want %v", name, got, want)
	}
}

// azRedact hides the value after -p, and --password=…, so secrets stay out
// of test logs.
func azRedact(args []string) string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "-p" {
			out[i] = "***"
		}
		if strings.HasPrefix(out[i], "--password=") {
			out[i] = "--password=***"
		}
	}
	return strings.Join(out, " ")
}

// azGrep returns the lines of s that contain any of words.
func azGrep(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func azWriteJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	f := filepath.Join(tb.TempDir(), "credentials.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return f
}

// azAdmin skips unless GALLEON_TEST_AZ=1, boots a server and returns it
// with an az shell signed in as its administrator (az-setup --login).
func azAdmin(t *testing.T) (*Main, azShell) {
	t.Helper()
	if os.Getenv("GALLEON_TEST_AZ") != "1" {
		t.Skip("set GALLEON_TEST_AZ=1 to run the az CLI end-to-end test (needs az and bash on PATH)")
	}
	m := azTestMain(t)
	dir := filepath.Join(t.TempDir(), "az")
	if err := (&azSetup{CredFile: m.AdminFile, Dir: dir, CloudName: "Galleon", Login: true, Out: new(strings.Builder)}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m, azShell{t: t, dir: dir}
}
