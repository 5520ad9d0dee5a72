package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// adminCommand manages the directory through the server's admin API, as
// the principal in --credentials: never by touching the database.
func adminCommand() *cobra.Command {
	var credFile, output, tenant string
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage tenants, subscriptions, users, groups, applications and service principals",
		Long: `Manage the directory through the server's admin API, signed in as the
principal in --credentials (default ./galleon-data/admin.json, or
$GALLEON_CREDENTIALS). --tenant defaults to the credentials' tenant.`,
	}
	cmd.PersistentFlags().StringVar(&credFile, "credentials", defaultCredentialsFile(), "credentials file (admin.json format)")
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or domain (default: the credentials' tenant)")

	// run builds a client and calls f with the tenant path prefix.
	run := func(c *cobra.Command, f func(cl *apiClient, tp string) (any, error), columns ...string) error {
		if output != "table" && output != "json" {
			return fmt.Errorf("--output %q: use table or json", output)
		}
		cl, err := newAPIClient(credFile)
		if err != nil {
			return err
		}
		t := tenant
		if t == "" {
			t = cl.creds.TenantID
		}
		v, err := f(cl, "/admin/v1/tenants/"+url.PathEscape(t))
		if err != nil {
			return err
		}
		return printResult(c.OutOrStdout(), output, v, columns)
	}
	get := func(path string, columns ...string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, _ []string) error {
			return run(c, func(cl *apiClient, tp string) (any, error) {
				var out any
				return out, cl.do(c.Context(), "GET", strings.ReplaceAll(path, "{t}", tp), nil, &out)
			}, columns...)
		}
	}
	send := func(c *cobra.Command, method, path string, body any, columns ...string) error {
		return run(c, func(cl *apiClient, tp string) (any, error) {
			var out any
			return out, cl.do(c.Context(), method, strings.ReplaceAll(path, "{t}", tp), body, &out)
		}, columns...)
	}

	// Tenants.
	tenants := &cobra.Command{Use: "tenant", Short: "Create and list tenants"}
	var domain, name string
	tcreate := &cobra.Command{Use: "create", Short: "Create a tenant (installation operators only)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return send(c, "POST", "/admin/v1/tenants", map[string]any{"domain": domain, "displayName": name}, "id", "domain", "displayName")
		}}
	tcreate.Flags().StringVar(&domain, "domain", "", "unique domain name, e.g. contoso.example (required)")
	tcreate.Flags().StringVar(&name, "name", "", "display name")
	tcreate.MarkFlagRequired("domain")
	tenants.AddCommand(tcreate, &cobra.Command{Use: "list", Short: "List tenants", Args: cobra.NoArgs, RunE: get("/admin/v1/tenants", "id", "domain", "displayName")})

	// Subscriptions.
	subs := &cobra.Command{Use: "subscription", Short: "Create and list subscriptions"}
	var subName, subID, owner string
	screate := &cobra.Command{Use: "create", Short: "Create a subscription in --tenant (installation operators only)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			body := map[string]any{"displayName": subName}
			if subID != "" {
				body["subscriptionId"] = subID
			}
			if owner != "" {
				body["ownerPrincipalId"] = owner
			}
			return send(c, "POST", "{t}/subscriptions", body, "subscriptionId", "tenantId", "displayName", "state")
		}}
	screate.Flags().StringVar(&subName, "name", "", "display name (required)")
	screate.Flags().StringVar(&subID, "id", "", "subscription ID (default: a new GUID)")
	screate.Flags().StringVar(&owner, "owner", "", "object ID of a principal to make Owner of the subscription")
	screate.MarkFlagRequired("name")
	subs.AddCommand(screate, &cobra.Command{Use: "list", Short: "List subscriptions of --tenant", Args: cobra.NoArgs, RunE: get("{t}/subscriptions", "subscriptionId", "displayName", "state")})

	// Users.
	users := &cobra.Command{Use: "user", Short: "Create, list and delete users"}
	var upn, display string
	var passwordStdin bool
	ucreate := &cobra.Command{Use: "create", Short: "Create a user", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			pw := os.Getenv("GALLEON_USER_PASSWORD")
			if passwordStdin {
				b, err := io.ReadAll(c.InOrStdin())
				if err != nil {
					return err
				}
				pw = strings.TrimRight(string(b), "\r\n")
			}
			if pw == "" {
				return fmt.Errorf("give the password on standard input with --password-stdin, or in $GALLEON_USER_PASSWORD")
			}
			return send(c, "POST", "{t}/users", map[string]any{"userPrincipalName": upn, "displayName": display, "password": pw}, "id", "userPrincipalName", "displayName")
		}}
	ucreate.Flags().StringVar(&upn, "upn", "", "user principal name, e.g. alice@contoso.example (required)")
	ucreate.Flags().StringVar(&display, "name", "", "display name")
	ucreate.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	ucreate.MarkFlagRequired("upn")
	users.AddCommand(ucreate,
		&cobra.Command{Use: "list", Short: "List users", Args: cobra.NoArgs, RunE: get("{t}/users", "id", "userPrincipalName", "displayName")},
		&cobra.Command{Use: "delete ID", Short: "Delete a user", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, a []string) error {
			return send(c, "DELETE", "{t}/users/"+url.PathEscape(a[0]), nil)
		}})

	// Groups and members.
	groups := &cobra.Command{Use: "group", Short: "Create and list groups; manage members"}
	var gname string
	gcreate := &cobra.Command{Use: "create", Short: "Create a group", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return send(c, "POST", "{t}/groups", map[string]any{"displayName": gname}, "id", "displayName")
		}}
	gcreate.Flags().StringVar(&gname, "name", "", "display name (required)")
	gcreate.MarkFlagRequired("name")
	members := &cobra.Command{Use: "member", Short: "Add, list and remove group members"}
	members.AddCommand(
		&cobra.Command{Use: "add GROUP MEMBER", Short: "Add a user, service principal or group (object IDs) to a group", Args: cobra.ExactArgs(2),
			RunE: func(c *cobra.Command, a []string) error {
				return send(c, "POST", "{t}/groups/"+url.PathEscape(a[0])+"/members", map[string]any{"memberId": a[1]})
			}},
		&cobra.Command{Use: "list GROUP", Short: "List a group's direct members", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, a []string) error {
				return get("{t}/groups/"+url.PathEscape(a[0])+"/members", "id", "type", "displayName")(c, nil)
			}},
		&cobra.Command{Use: "remove GROUP MEMBER", Short: "Remove a direct member", Args: cobra.ExactArgs(2),
			RunE: func(c *cobra.Command, a []string) error {
				return send(c, "DELETE", "{t}/groups/"+url.PathEscape(a[0])+"/members/"+url.PathEscape(a[1]), nil)
			}})
	groups.AddCommand(gcreate, members,
		&cobra.Command{Use: "list", Short: "List groups", Args: cobra.NoArgs, RunE: get("{t}/groups", "id", "displayName")})

	// Applications and secrets.
	apps := &cobra.Command{Use: "app", Short: "Create and list applications; add client secrets"}
	var aname string
	var multi, withSP bool
	var days int
	acreate := &cobra.Command{Use: "create", Short: "Register an application, optionally with its service principal", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return run(c, func(cl *apiClient, tp string) (any, error) {
				var app map[string]any
				if err := cl.do(c.Context(), "POST", tp+"/applications", map[string]any{"displayName": aname, "multiTenant": multi}, &app); err != nil {
					return nil, err
				}
				if withSP {
					var sp map[string]any
					if err := cl.do(c.Context(), "POST", tp+"/servicePrincipals", map[string]any{"appId": app["appId"]}, &sp); err != nil {
						return nil, err
					}
					app["servicePrincipalId"] = sp["id"]
				}
				return app, nil
			}, "id", "appId", "displayName", "multiTenant", "servicePrincipalId")
		}}
	acreate.Flags().StringVar(&aname, "name", "", "display name (required)")
	acreate.Flags().BoolVar(&multi, "multi-tenant", false, "let other tenants consent to the application")
	acreate.Flags().BoolVar(&withSP, "with-sp", true, "also create the application's service principal in --tenant")
	acreate.MarkFlagRequired("name")
	secrets := &cobra.Command{Use: "secret", Short: "Manage client secrets"}
	sadd := &cobra.Command{Use: "add APP", Short: "Add a client secret to an application (object ID or appId); it is shown once", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, a []string) error {
			return send(c, "POST", "{t}/applications/"+url.PathEscape(a[0])+"/secrets", map[string]any{"displayName": "galleon-cli", "expiresInDays": days}, "keyId", "secretText", "endDateTime")
		}}
	sadd.Flags().IntVar(&days, "days", 365, "days until the secret expires (at most 730)")
	secrets.AddCommand(sadd)
	apps.AddCommand(acreate, secrets,
		&cobra.Command{Use: "list", Short: "List applications", Args: cobra.NoArgs, RunE: get("{t}/applications", "id", "appId", "displayName", "multiTenant")})

	// Service principals.
	sps := &cobra.Command{Use: "sp", Short: "Create and list service principals"}
	sps.AddCommand(
		&cobra.Command{Use: "create APPID", Short: "Create the service principal of an application in --tenant", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, a []string) error {
				return send(c, "POST", "{t}/servicePrincipals", map[string]any{"appId": a[0]}, "id", "appId", "displayName")
			}},
		&cobra.Command{Use: "list", Short: "List service principals", Args: cobra.NoArgs, RunE: get("{t}/servicePrincipals", "id", "appId", "displayName")})

	// Directory roles.
	roles := &cobra.Command{Use: "role", Short: "Grant directory roles"}
	roles.AddCommand(&cobra.Command{Use: "grant PRINCIPAL ROLE", Short: "Grant GlobalAdministrator (or InstallationOperator) to a principal in --tenant", Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, a []string) error {
			return send(c, "POST", "{t}/directoryRoles", map[string]any{"principalId": a[0], "role": a[1]})
		}})

	keys := &cobra.Command{Use: "keys", Short: "Manage token-signing keys"}
	keys.AddCommand(&cobra.Command{Use: "rotate", Short: "Start signing tokens with a new key (old tokens stay valid until they expire)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return send(c, "POST", "/admin/v1/signingKeys/rotate", map[string]any{}, "kid")
		}})

	cmd.AddCommand(tenants, subs, users, groups, apps, sps, roles, keys)
	return cmd
}

// printResult writes v as indented JSON, or as a table of columns: a list
// (under "value" or bare) gives one row per item, an object one row.
func printResult(w io.Writer, format string, v any, columns []string) error {
	if v == nil {
		return nil
	}
	if format == "json" || len(columns) == 0 {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	var rows []map[string]any
	switch x := v.(type) {
	case map[string]any:
		if list, ok := x["value"].([]any); ok {
			for _, it := range list {
				if m, ok := it.(map[string]any); ok {
					rows = append(rows, m)
				}
			}
		} else {
			rows = append(rows, x)
		}
	case []any:
		for _, it := range x {
			if m, ok := it.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	header := make([]string, len(columns))
	for i, c := range columns {
		header[i] = strings.ToUpper(c)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	sort.SliceStable(rows, func(i, j int) bool { return fmt.Sprint(rows[i][columns[0]]) < fmt.Sprint(rows[j][columns[0]]) })
	for _, r := range rows {
		cells := make([]string, len(columns))
		for i, c := range columns {
			if r[c] != nil {
				cells[i] = fmt.Sprint(r[c])
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
