package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// galleonCLI runs the galleon command line in-process and returns stdout.
func galleonCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestAdminCLI drives `galleon admin` against a real server: every kind of
// directory object is created and listed through the admin API.
func TestAdminCLI(t *testing.T) {
	s := mustStart(t, "")
	creds := "--credentials=" + s.AdminFile
	run := func(stdin string, args ...string) map[string]any {
		t.Helper()
		out, err := galleonCLI(t, stdin, append([]string{"admin", creds, "-o", "json"}, args...)...)
		if err != nil {
			t.Fatalf("galleon admin %v: %v\n%s", args, err, out)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("galleon admin %v: not JSON: %v\n%s", args, err, out)
		}
		return v
	}
	ten := run("", "tenant", "create", "--domain", "fabrikam.example", "--name", "Fabrikam")
	if ten["domain"] != "fabrikam.example" {
		t.Fatalf("tenant = %v", ten)
	}
	user := run("a long enough password\n", "user", "create", "--tenant", "fabrikam.example", "--upn", "bo@fabrikam.example", "--password-stdin")
	sub := run("", "subscription", "create", "--tenant", "fabrikam.example", "--name", "Fab prod", "--owner", user["id"].(string))
	if sub["tenantId"] != ten["id"] {
		t.Fatalf("subscription = %v", sub)
	}
	group := run("", "group", "create", "--tenant", "fabrikam.example", "--name", "ops")
	run("", "group", "member", "add", "--tenant", "fabrikam.example", group["id"].(string), user["id"].(string))
	app := run("", "app", "create", "--tenant", "fabrikam.example", "--name", "ci", "--multi-tenant")
	if app["multiTenant"] != true || app["servicePrincipalId"] == nil {
		t.Fatalf("app = %v", app)
	}
	secret := run("", "app", "secret", "add", "--tenant", "fabrikam.example", app["appId"].(string), "--days", "30")
	if s, _ := secret["secretText"].(string); len(s) < 30 {
		t.Fatalf("secret = %v", secret)
	}

	// Table output lists what was made.
	out, err := galleonCLI(t, "", "admin", creds, "--tenant", "fabrikam.example", "group", "member", "list", group["id"].(string))
	if err != nil || !strings.Contains(out, user["id"].(string)) {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	out, err = galleonCLI(t, "", "admin", creds, "tenant", "list")
	if err != nil || !strings.Contains(out, "fabrikam.example") || !strings.Contains(out, "galleon.local") {
		t.Fatalf("tenant list: %v\n%s", err, out)
	}

	// Errors name the problem.
	if _, err := galleonCLI(t, "short\n", "admin", creds, "user", "create", "--upn", "x@galleon.local", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "12") {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := galleonCLI(t, "", "admin", "--credentials=/nonexistent.json", "tenant", "list"); err == nil || !strings.Contains(err.Error(), "--credentials") {
		t.Fatalf("missing credentials: %v", err)
	}
}
