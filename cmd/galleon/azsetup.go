package main

import "github.com/spf13/cobra"

func azSetupCommand() *cobra.Command {
	return &cobra.Command{Use: "az-setup", Short: "Prepare the az CLI to talk to this Galleon server"}
}
