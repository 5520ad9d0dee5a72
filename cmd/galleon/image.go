package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// API versions the everyday commands speak.
const (
	galleryAPI = "2024-03-03"
	diskAPI    = "2022-07-02"
)

// imageRef names an image definition in a subscription.
type imageRef struct {
	sub, rg, gallery, image string
}

func (r imageRef) String() string { return r.rg + "/" + r.gallery + "/" + r.image }

// path is the definition's ARM path.
func (r imageRef) path() string {
	return "/subscriptions/" + url.PathEscape(r.sub) + "/resourceGroups/" + url.PathEscape(r.rg) +
		"/providers/Microsoft.Compute/galleries/" + url.PathEscape(r.gallery) + "/images/" + url.PathEscape(r.image)
}

// versionPath is the ARM path of one version (or "latest").
func (r imageRef) versionPath(v string) string { return r.path() + "/versions/" + url.PathEscape(v) }

// refFlags adds the flags naming an image definition.
func refFlags(cmd *cobra.Command, r *imageRef) {
	f := cmd.Flags()
	f.StringVarP(&r.rg, "resource-group", "g", "", "resource group (required)")
	f.StringVarP(&r.gallery, "gallery", "r", "", "gallery name (required)")
	f.StringVarP(&r.image, "image", "i", "", "image definition name (required)")
	for _, n := range []string{"resource-group", "gallery", "image"} {
		cmd.MarkFlagRequired(n)
	}
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return fmt.Errorf("--output %q: use table or json", o)
	}
	return nil
}

// imageCommand groups the everyday image commands.
func imageCommand() *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Push disk images to a gallery as versions, pull them back, list versions",
		Long: `Push, pull and list image versions, signed in as ` + "`galleon login`" + ` saved (or
--credentials FILE, an admin.json). Progress goes to standard error: bars on a
terminal, a line every 10% otherwise (or with --quiet).`,
	}
	cf.register(cmd, true)
	cmd.AddCommand(pushCommand(cf), pullCommand(cf), versionsCommand(cf), latestCommand(cf))
	return cmd
}

// versionView is the part of an image version the commands show.
type versionView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		ProvisioningState string `json:"provisioningState"`
		PublishingProfile struct {
			TargetRegions []struct {
				Name string `json:"name"`
			} `json:"targetRegions"`
			ExcludeFromLatest bool   `json:"excludeFromLatest"`
			EndOfLifeDate     string `json:"endOfLifeDate"`
			PublishedDate     string `json:"publishedDate"`
		} `json:"publishingProfile"`
		ReplicationStatus *struct {
			AggregatedState string `json:"aggregatedState"`
			Summary         []struct {
				Region   string `json:"region"`
				State    string `json:"state"`
				Details  string `json:"details"`
				Progress int    `json:"progress"`
			} `json:"summary"`
		} `json:"replicationStatus"`
	} `json:"properties"`
}

// regions describes each target region's replication: "eastus Completed,
// westus2 Replicating 40%"; without a replication status, the names.
func (v *versionView) regions() string {
	var parts []string
	if st := v.Properties.ReplicationStatus; st != nil && len(st.Summary) > 0 {
		for _, s := range st.Summary {
			p := s.Region + " " + s.State
			if s.Progress < 100 {
				p += fmt.Sprintf(" %d%%", s.Progress)
			}
			parts = append(parts, p)
		}
	} else {
		for _, t := range v.Properties.PublishingProfile.TargetRegions {
			parts = append(parts, t.Name)
		}
	}
	return strings.Join(parts, ", ")
}

// compareVersions orders MAJOR.MINOR.PATCH names numerically; other names
// sort after them, by text.
func compareVersions(a, b string) int {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	switch {
	case oka && okb:
		return slices.Compare(pa, pb)
	case oka:
		return -1
	case okb:
		return 1
	}
	return cmp.Compare(a, b)
}

func parseVersion(s string) ([]int64, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, false
	}
	out := make([]int64, 3)
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || p == "" || strings.HasPrefix(p, "+") {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func versionsCommand(cf *clientFlags) *cobra.Command {
	var ref imageRef
	var output string
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List an image definition's versions with their replication in each region",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, sub, err := cf.client()
			if err != nil {
				return err
			}
			ref.sub = sub
			ctx := c.Context()
			var raws []json.RawMessage
			next := ref.path() + "/versions?api-version=" + galleryAPI
			for next != "" {
				var page struct {
					Value    []struct{ Name string } `json:"value"`
					NextLink string                  `json:"nextLink"`
				}
				if err := cl.do(ctx, "GET", next, nil, &page); err != nil {
					return fmt.Errorf("list versions of %s: %w", ref, err)
				}
				for _, it := range page.Value {
					var raw json.RawMessage
					if err := cl.do(ctx, "GET", ref.versionPath(it.Name)+"?$expand=ReplicationStatus&api-version="+galleryAPI, nil, &raw); err != nil {
						if statusOf(err) == 404 {
							continue // deleted while listing
						}
						return fmt.Errorf("get version %s of %s: %w", it.Name, ref, err)
					}
					raws = append(raws, raw)
				}
				next = page.NextLink
			}
			views := make([]versionView, len(raws))
			for i, raw := range raws {
				if err := json.Unmarshal(raw, &views[i]); err != nil {
					return fmt.Errorf("unreadable version of %s: %w", ref, err)
				}
			}
			order := make([]int, len(views))
			for i := range order {
				order[i] = i
			}
			slices.SortStableFunc(order, func(a, b int) int { return compareVersions(views[a].Name, views[b].Name) })
			if output == "json" {
				sorted := make([]json.RawMessage, len(raws))
				for i, k := range order {
					sorted[i] = raws[k]
				}
				return printJSON(c.OutOrStdout(), sorted)
			}
			rows := [][]string{}
			for _, k := range order {
				v := &views[k]
				rows = append(rows, []string{v.Name, v.Properties.ProvisioningState, v.regions(),
					strconv.FormatBool(v.Properties.PublishingProfile.ExcludeFromLatest), v.Properties.PublishingProfile.EndOfLifeDate})
			}
			if len(rows) == 0 {
				fmt.Fprintf(c.ErrOrStderr(), "%s has no versions yet; publish one with `galleon image push`.\n", ref)
				return nil
			}
			return printTable(c.OutOrStdout(), []string{"NAME", "STATE", "REGIONS", "EXCLUDE-FROM-LATEST", "END-OF-LIFE"}, rows)
		},
	}
	refFlags(cmd, &ref)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func latestCommand(cf *clientFlags) *cobra.Command {
	var ref imageRef
	var region, output string
	cmd := &cobra.Command{
		Use:   "latest",
		Short: "Show the version `latest` resolves to in a region",
		Long: `Show the version "latest" resolves to in --region (default: the image
definition's location): the highest version that succeeded, is replicated there,
is not past its end of life and is not excluded from latest.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, sub, err := cf.client()
			if err != nil {
				return err
			}
			ref.sub = sub
			var raw json.RawMessage
			if err := cl.do(c.Context(), "GET", latestPath(ref, region), nil, &raw); err != nil {
				return fmt.Errorf("latest version of %s: %w", ref, err)
			}
			if output == "json" {
				return printJSON(c.OutOrStdout(), raw)
			}
			var v versionView
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("unreadable version of %s: %w", ref, err)
			}
			return printTable(c.OutOrStdout(), []string{"NAME", "STATE", "LOCATION", "PUBLISHED", "REGIONS"},
				[][]string{{v.Name, v.Properties.ProvisioningState, v.Location, v.Properties.PublishingProfile.PublishedDate, v.regions()}})
		},
	}
	refFlags(cmd, &ref)
	cmd.Flags().StringVar(&region, "region", "", "region to resolve latest in (default: the image definition's location)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func latestPath(ref imageRef, region string) string {
	q := url.Values{"api-version": {galleryAPI}}
	if region != "" {
		q.Set("region", region)
	}
	return ref.versionPath("latest") + "?" + q.Encode()
}

// usageRow is one replica in a galleryUsage reply.
type usageRow struct {
	VersionID          string `json:"versionId"`
	Region             string `json:"region"`
	Replica            int    `json:"replica"`
	StorageAccountType string `json:"storageAccountType"`
	State              string `json:"state"`
	StoredBytes        int64  `json:"storedBytes"`
	EgressBytes        int64  `json:"egressBytes"`
	SourceRegion       string `json:"sourceRegion"`
}

func usageCommand() *cobra.Command {
	cf := &clientFlags{}
	var rg, gallery, image, version, output string
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show stored bytes and cross-region egress per replica",
		Long: `Show what each replica of each version occupies (stored bytes) and what
replication moved between regions (egress), for the subscription, or a resource
group, gallery, image definition or version, with totals.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			switch {
			case gallery != "" && rg == "":
				return errors.New("--gallery needs --resource-group")
			case image != "" && gallery == "":
				return errors.New("--image needs --gallery")
			case version != "" && image == "":
				return errors.New("--version needs --image")
			}
			cl, sub, err := cf.client()
			if err != nil {
				return err
			}
			path := usagePath(sub, rg, gallery, image, version)
			var raw json.RawMessage
			if err := cl.do(c.Context(), "GET", path, nil, &raw); err != nil {
				return fmt.Errorf("usage: %w", err)
			}
			if output == "json" {
				return printJSON(c.OutOrStdout(), raw)
			}
			var u struct {
				Value  []usageRow `json:"value"`
				Totals struct {
					StoredBytes int64 `json:"storedBytes"`
					EgressBytes int64 `json:"egressBytes"`
					Replicas    int64 `json:"replicas"`
				} `json:"totals"`
			}
			if err := json.Unmarshal(raw, &u); err != nil {
				return fmt.Errorf("usage: unreadable reply: %w", err)
			}
			slices.SortStableFunc(u.Value, func(a, b usageRow) int {
				return cmp.Or(cmp.Compare(shortVersionID(a.VersionID), shortVersionID(b.VersionID)), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Replica, b.Replica))
			})
			rows := [][]string{}
			for _, r := range u.Value {
				rows = append(rows, []string{shortVersionID(r.VersionID), r.Region, strconv.Itoa(r.Replica), r.StorageAccountType, r.State,
					humanBytes(r.StoredBytes), humanBytes(r.EgressBytes), r.SourceRegion})
			}
			w := c.OutOrStdout()
			if err := printTable(w, []string{"VERSION", "REGION", "REPLICA", "STORAGE", "STATE", "STORED", "EGRESS", "FROM"}, rows); err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "\nTotal: %d replicas, %s stored, %s cross-region egress\n", u.Totals.Replicas, humanBytes(u.Totals.StoredBytes), humanBytes(u.Totals.EgressBytes))
			return err
		},
	}
	cf.register(cmd, false)
	f := cmd.Flags()
	f.StringVarP(&rg, "resource-group", "g", "", "only this resource group")
	f.StringVarP(&gallery, "gallery", "r", "", "only this gallery (needs --resource-group)")
	f.StringVarP(&image, "image", "i", "", "only this image definition (needs --gallery)")
	f.StringVarP(&version, "version", "e", "", "only this version (needs --image)")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// usagePath is the galleryUsage path of the narrowest scope given.
func usagePath(sub, rg, gallery, image, version string) string {
	p := "/subscriptions/" + url.PathEscape(sub)
	switch {
	case rg == "":
		p += "/providers/Microsoft.Compute/galleryUsage"
	case gallery == "":
		p += "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.Compute/galleryUsage"
	default:
		p += "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.Compute/galleries/" + url.PathEscape(gallery)
		if image != "" {
			p += "/images/" + url.PathEscape(image)
			if version != "" {
				p += "/versions/" + url.PathEscape(version)
			}
		}
		p += "/galleryUsage"
	}
	return p + "?api-version=" + galleryAPI
}

// shortVersionID turns a version's resource ID into rg/gallery/image/version.
func shortVersionID(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	var rg, g, i, v string
	for k := 0; k+1 < len(segs); k += 2 {
		switch strings.ToLower(segs[k]) {
		case "resourcegroups":
			rg = segs[k+1]
		case "galleries":
			g = segs[k+1]
		case "images":
			i = segs[k+1]
		case "versions":
			v = segs[k+1]
		}
	}
	if rg == "" || g == "" || i == "" || v == "" {
		return id
	}
	return rg + "/" + g + "/" + i + "/" + v
}

// printTable writes rows under header, in aligned columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
