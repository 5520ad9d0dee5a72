package main

import (
	"bytes"
	"context"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// azShim is the sitecustomize.py az-setup installs; docs/az.md explains it.
//
//go:embed azshim/sitecustomize.py
var azShim []byte

// systemCABundles are where Linux distributions keep the system roots; the
// first that exists goes in front of Galleon's CA, so that az still
// reaches other HTTPS sites (REQUESTS_CA_BUNDLE replaces, not extends).
var systemCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",             // openSUSE
}

func azSetupCommand() *cobra.Command {
	s := &azSetup{}
	cmd := &cobra.Command{
		Use:   "az-setup",
		Short: "Prepare the az CLI to talk to this Galleon server",
		Long: `Prepare an az CLI configuration for a Galleon server, without touching ~/.azure.

It writes, under --dir (default ~/.galleon/az):
  ca-bundle.pem            the system CA bundle plus Galleon's CA
  python/sitecustomize.py  a shim fixing Debian az 2.45 client problems (see docs/az.md)
  env.sh                   exports AZURE_CONFIG_DIR, REQUESTS_CA_BUNDLE, PYTHONPATH
                           and AZ_LOCAL_AUTHORITY_HOSTS
  azure/                   az's configuration directory
then, with that environment, turns telemetry off, registers the server as a
cloud (--cloud-name) and makes it the active cloud. With --login it also signs
in as the principal in --credentials and selects its subscription.
Afterwards run what it prints: source DIR/env.sh in each shell that uses az.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s.Out = cmd.OutOrStdout()
			return s.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&s.CredFile, "credentials", defaultCredentialsFile(), "credentials file (admin.json format) of the principal az signs in as")
	cmd.Flags().StringVar(&s.Dir, "dir", "", "directory for az's configuration and the files above (default ~/.galleon/az)")
	cmd.Flags().StringVar(&s.CloudName, "cloud-name", "Galleon", "name of the cloud registered in az")
	cmd.Flags().BoolVar(&s.Login, "login", false, "also sign in with the credentials and select their subscription")
	cmd.Flags().StringVar(&s.AZ, "az", "az", "the az executable")
	return cmd
}

// azSetup prepares a directory from which az talks to one Galleon server.
type azSetup struct {
	CredFile  string // admin.json-format credentials
	Dir       string // default ~/.galleon/az
	CloudName string // default Galleon
	Login     bool
	AZ        string    // az executable, default "az"
	BaseEnv   []string  // environment for az before env.sh's; default os.Environ()
	Out       io.Writer // progress and next steps; default os.Stdout
}

// Paths of the files az-setup writes, relative to the directory.
const (
	azCABundle  = "ca-bundle.pem"
	azPythonDir = "python"
	azConfigDir = "azure"
	azEnvFile   = "env.sh"
)

// Run writes the files, configures az and prints what to run next.
func (s *azSetup) Run(ctx context.Context) error {
	s.defaults()
	creds, err := s.credentials()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return fmt.Errorf("--dir %q: %w", s.Dir, err)
	}
	s.Dir = dir
	azPath, err := exec.LookPath(s.AZ)
	if err != nil {
		return fmt.Errorf("az-setup needs the az CLI: %w (install it, e.g. `apt-get install azure-cli` on Debian, or pass --az PATH)", err)
	}
	env, err := s.writeFiles(creds)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "Wrote %s, %s and %s under %s\n", azEnvFile, azCABundle, filepath.Join(azPythonDir, "sitecustomize.py"), dir)

	base := strings.TrimSuffix(creds.Endpoint, "/")
	cloud, _ := json.Marshal(map[string]any{
		"profile": "latest",
		"endpoints": map[string]string{
			"resourceManager":                base + "/",
			"management":                     base + "/",
			"activeDirectory":                base,
			"activeDirectoryResourceId":      base + "/",
			"activeDirectoryGraphResourceId": base + "/graph/",
			// az 2.45 has no flag for Microsoft Graph (used by `az role
			// assignment --assignee` and `az ad`): Galleon serves /v1.0/ at
			// its root and accepts tokens for its own audience there.
			"microsoftGraphResourceId": base + "/",
		},
	})
	azEnv := slices.Concat(s.baseEnv(), env)
	if old := lookupEnv(s.baseEnv(), "PYTHONPATH"); old != "" {
		azEnv = append(azEnv, "PYTHONPATH="+filepath.Join(s.Dir, azPythonDir)+string(os.PathListSeparator)+old)
	}
	az := func(step string, args ...string) error {
		return runAz(ctx, azPath, azEnv, step, args...)
	}
	if err := az("turn off telemetry", "config", "set", "core.collect_telemetry=false"); err != nil {
		return err
	}
	// register fails if the cloud exists (a second az-setup); then update it.
	verb := "register"
	if az("", "cloud", "show", "-n", s.CloudName) == nil {
		verb = "update"
	}
	if err := az(verb+" cloud "+s.CloudName, "cloud", verb, "-n", s.CloudName, "--cloud-config", string(cloud)); err != nil {
		return err
	}
	if err := az("make "+s.CloudName+" the active cloud", "cloud", "set", "-n", s.CloudName); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "Registered %s as az cloud %q and made it active\n", base, s.CloudName)

	if s.Login {
		if creds.ClientSecret == "" {
			return fmt.Errorf("--login: credentials %s have no clientSecret", s.CredFile)
		}
		// The secret is an argument because az 2.45 has no other way to
		// take it; it is left out of the step name shown on failure.
		if err := az("sign in (az login --service-principal -u "+creds.ClientID+" --tenant "+creds.TenantID+")",
			"login", "--service-principal", "-u", creds.ClientID, "--password="+creds.ClientSecret, "--tenant", creds.TenantID, "-o", "none"); err != nil {
			return err
		}
		if creds.SubscriptionID != "" {
			if err := az("select subscription "+creds.SubscriptionID, "account", "set", "-s", creds.SubscriptionID); err != nil {
				return err
			}
		}
		fmt.Fprintf(s.Out, "Signed in as %s\n", creds.ClientID)
	}

	fmt.Fprintf(s.Out, "\nNext, in each shell where you use az with this server:\n  source %s\n", shellQuote(filepath.Join(dir, azEnvFile)))
	if !s.Login {
		credFile, _ := filepath.Abs(s.CredFile)
		fmt.Fprintf(s.Out, "  az login --service-principal -u %s --tenant %s \\\n    --password=\"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"clientSecret\"])' %s)\"\n",
			creds.ClientID, creds.TenantID, shellQuote(credFile))
		if creds.SubscriptionID != "" {
			fmt.Fprintf(s.Out, "  az account set -s %s\n", creds.SubscriptionID)
		}
	}
	fmt.Fprintf(s.Out, "then, for example: az group list -o table\n")
	return nil
}

func (s *azSetup) defaults() {
	if s.CredFile == "" {
		s.CredFile = defaultCredentialsFile()
	}
	if s.Dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			s.Dir = filepath.Join(home, ".galleon", "az")
		} else {
			s.Dir = filepath.Join(".galleon", "az")
		}
	}
	if s.CloudName == "" {
		s.CloudName = "Galleon"
	}
	if s.AZ == "" {
		s.AZ = "az"
	}
	if s.Out == nil {
		s.Out = os.Stdout
	}
}

func (s *azSetup) baseEnv() []string {
	if s.BaseEnv != nil {
		return s.BaseEnv
	}
	return os.Environ()
}

// credentials reads and checks the credentials file; a relative
// caCertFile is taken relative to the file.
func (s *azSetup) credentials() (*AdminCredentials, error) {
	c, err := readCredentials(s.CredFile)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w (start `galleon serve` or pass --credentials FILE)", err)
	}
	for _, f := range []struct{ name, v string }{{"endpoint", c.Endpoint}, {"tenantId", c.TenantID}, {"clientId", c.ClientID}, {"caCertFile", c.CAFile}} {
		if f.v == "" {
			return nil, fmt.Errorf("credentials %s: %q is missing", s.CredFile, f.name)
		}
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, fmt.Errorf("credentials %s: endpoint %q must be an https URL (az refuses plain http for sign-in and ARM)", s.CredFile, c.Endpoint)
	}
	if !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(filepath.Dir(s.CredFile), c.CAFile)
	}
	return c, nil
}

// writeFiles writes the CA bundle, the shim and env.sh, and returns the
// variables env.sh exports as KEY=VALUE.
func (s *azSetup) writeFiles(c *AdminCredentials) ([]string, error) {
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, azPythonDir), filepath.Join(s.Dir, azConfigDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read Galleon's CA certificate: %w", err)
	}
	if err := checkPEMCerts(ca); err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", c.CAFile, err)
	}
	var bundle bytes.Buffer
	for _, f := range systemCABundles {
		if b, err := os.ReadFile(f); err == nil {
			bundle.Write(b)
			if len(b) > 0 && b[len(b)-1] != '\n' {
				bundle.WriteByte('\n')
			}
			break
		}
	}
	fmt.Fprintf(&bundle, "# Galleon CA for %s (from %s)\n", c.Endpoint, c.CAFile)
	bundle.Write(ca)

	u, _ := url.Parse(c.Endpoint)
	env := []string{
		"AZURE_CONFIG_DIR=" + filepath.Join(s.Dir, azConfigDir),
		"REQUESTS_CA_BUNDLE=" + filepath.Join(s.Dir, azCABundle),
		"PYTHONPATH=" + filepath.Join(s.Dir, azPythonDir),
		"AZ_LOCAL_AUTHORITY_HOSTS=" + strings.ToLower(u.Hostname()),
	}
	var sh strings.Builder
	fmt.Fprintf(&sh, "# Written by `galleon az-setup` for %s.\n# Source it to point az at that server; ~/.azure is not used while it is in effect.\n", c.Endpoint)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PYTHONPATH" { // keep the user's own entries after the shim
			fmt.Fprintf(&sh, "export PYTHONPATH=%s${PYTHONPATH:+:\"$PYTHONPATH\"}\n", shellQuote(v))
			continue
		}
		fmt.Fprintf(&sh, "export %s=%s\n", k, shellQuote(v))
	}
	files := []struct {
		name string
		data []byte
	}{
		{azCABundle, bundle.Bytes()},
		{filepath.Join(azPythonDir, "sitecustomize.py"), azShim},
		{azEnvFile, []byte(sh.String())},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(s.Dir, f.name), f.data, 0o644); err != nil {
			return nil, err
		}
	}
	return env, nil
}

func checkPEMCerts(b []byte) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no PEM certificate")
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// runAz runs one az command. A failure names step and shows az's stderr;
// an empty step means the caller only wants to know whether it worked.
func runAz(ctx context.Context, az string, env []string, step string, args ...string) error {
	cmd := exec.CommandContext(ctx, az, args...)
	cmd.Env = mergeEnv(env)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || step == "" {
		return err
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = "(az printed nothing on stderr)"
	}
	return fmt.Errorf("az-setup step %q failed: %w\naz said:\n%s", step, err, msg)
}

// lookupEnv returns the value of key in env, or "".
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// mergeEnv keeps the last value of each variable, so later entries win.
func mergeEnv(env []string) []string {
	last := map[string]int{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:,=+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
