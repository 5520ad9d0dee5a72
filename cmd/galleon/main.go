// Command galleon is the Galleon server and its command-line client.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "galleon:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "galleon",
		Short:         "Galleon: a self-hosted compute image gallery with an Azure-compatible API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), adminCommand(), azSetupCommand())
	root.AddCommand(loginCommand(), logoutCommand(), imageCommand(), usageCommand())
	root.AddCommand(communityCommand())
	return root
}

func serveCommand() *cobra.Command {
	var data, listen, configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Galleon server (ARM API, sign-in, admin API) over HTTPS",
		Long: `Run the Galleon server. On first start it creates, under --data, a private CA
and server certificate, the database, a first tenant and subscription, and an
administrator service principal whose credentials go to DATA/admin.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := DefaultConfig()
			if configFile != "" {
				var err error
				if cfg, err = LoadConfig(configFile); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("data") {
				cfg.Data = data
			}
			if cmd.Flags().Changed("listen") {
				cfg.Listen = listen
			}
			m := &Main{Config: cfg, Out: cmd.OutOrStdout()}
			if err := m.Open(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			defer m.Close()
			printBanner(m)
			return m.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&data, "data", "./galleon-data", "data directory")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8443", "address to serve HTTPS on")
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration file (see docs/configuration.md)")
	return cmd
}

func printBanner(m *Main) {
	a := m.Admin
	fmt.Fprintf(m.Out, `Galleon is serving at %s
Administrator credentials: %s

Trust the CA:      %s
Sign in with az:   galleon az-setup --credentials %s   (then follow what it prints)
Use the Go SDK:    cloud.Configuration{ActiveDirectoryAuthorityHost: "%s/",
                     Services: {cloud.ResourceManager: {Endpoint: "%s", Audience: "%s"}}}
                   azidentity.NewClientSecretCredential("%s", "%s", <clientSecret from admin.json>,
                     &azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true, ...})
Subscription:      %s
`, m.BaseURL, m.AdminFile, a.CAFile, m.AdminFile, m.BaseURL, m.BaseURL, m.BaseURL, a.TenantID, a.ClientID, a.SubscriptionID)
}
