package main

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

// communityImage is one result of the native community image search
// (GET /providers/Microsoft.Compute/communityImageSearch).
type communityImage struct {
	PublicGalleryName string `json:"publicGalleryName"`
	Image             string `json:"image"`
	Location          string `json:"location"`
	UniqueID          string `json:"uniqueId"`
	Identifier        struct {
		Publisher string `json:"publisher"`
		Offer     string `json:"offer"`
		SKU       string `json:"sku"`
	} `json:"identifier"`
	OSType                string `json:"osType"`
	LatestVersion         string `json:"latestVersion"`
	LatestVersionUniqueID string `json:"latestVersionUniqueId"`
	PublisherContact      string `json:"publisherContact"`
}

func communityCommand() *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "community",
		Short: "Find images shared with the community",
	}
	cf.register(cmd, false)
	cmd.AddCommand(communitySearchCommand(cf))
	return cmd
}

func communitySearchCommand(cf *clientFlags) *cobra.Command {
	var publisher, offer, sku, location, output string
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search community images by publisher, offer and sku",
		Long: `Search every community gallery of the installation for image definitions whose
publisher, offer and sku contain the given words (ignoring case; leave one out to
match any), in every region they are offered in or only in --location. Each
result names the latest version there and the ID to deploy it from
(/CommunityGalleries/{publicName}/Images/{image}/Versions/{version}).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, _, err := cf.client()
			if err != nil {
				return err
			}
			q := url.Values{"api-version": {galleryAPI}}
			for k, v := range map[string]string{"publisher": publisher, "offer": offer, "sku": sku, "location": location} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var raws []json.RawMessage
			for next := "/providers/Microsoft.Compute/communityImageSearch?" + q.Encode(); next != ""; {
				var page struct {
					Value    []json.RawMessage `json:"value"`
					NextLink string            `json:"nextLink"`
				}
				if err := cl.do(c.Context(), "GET", next, nil, &page); err != nil {
					return fmt.Errorf("search community images: %w", err)
				}
				raws = append(raws, page.Value...)
				next = page.NextLink
			}
			if output == "json" {
				if raws == nil {
					raws = []json.RawMessage{}
				}
				return printJSON(c.OutOrStdout(), raws)
			}
			rows := make([][]string, 0, len(raws))
			for _, raw := range raws {
				var r communityImage
				if err := json.Unmarshal(raw, &r); err != nil {
					return fmt.Errorf("unreadable search result: %w", err)
				}
				latest := r.LatestVersionUniqueID
				if latest == "" {
					latest = "(no version in this region)"
				}
				rows = append(rows, []string{r.Identifier.Publisher, r.Identifier.Offer, r.Identifier.SKU, r.OSType, r.Location, r.LatestVersion, latest})
			}
			return printTable(c.OutOrStdout(), []string{"PUBLISHER", "OFFER", "SKU", "OS", "LOCATION", "LATEST", "ID"}, rows)
		},
	}
	cmd.Flags().StringVar(&publisher, "publisher", "", "words the publisher contains")
	cmd.Flags().StringVar(&offer, "offer", "", "words the offer contains")
	cmd.Flags().StringVar(&sku, "sku", "", "words the sku contains")
	cmd.Flags().StringVarP(&location, "location", "l", "", "only this region")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
