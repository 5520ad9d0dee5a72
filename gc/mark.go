package gc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/compute"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/storage"
)

// digestSet holds digests as raw SHA-256 sums: half the memory of hex keys.
type digestSet map[[32]byte]struct{}

func parseDigest(d string) ([32]byte, bool) {
	var k [32]byte
	if len(d) != 64 {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(d))
	return k, err == nil
}

// add marks d. Anything that is not a SHA-256 digest names no block a
// block store can hold, so it is ignored.
func (s digestSet) add(d string) {
	if k, ok := parseDigest(d); ok {
		s[k] = struct{}{}
	}
}

func (s digestSet) has(d string) bool {
	k, ok := parseDigest(d)
	if !ok {
		return false
	}
	_, found := s[k]
	return found
}

// marker collects the digests one pass keeps.
type marker struct {
	c        *Collector
	accounts []account
	set      digestSet
	loaded   map[string]bool // manifests already loaded and marked
}

// manifestRef is one manifest a resource names, with the accounts to try
// first when loading it.
type manifestRef struct {
	resource string
	digest   string
	prefer   []string // account names
}

// mark fills m.set from the staged blocks, the blob block maps and the
// resources' stored disks. It returns an error, and the sweep must not
// run, whenever it cannot be sure it saw every reference.
func (m *marker) mark(ctx context.Context) error {
	st := m.c.Store
	err := st.ListAllStagedBlobBlocks(ctx, func(_, _, _ string, b *galleon.StagedBlock) error {
		for _, p := range b.Pieces {
			if p != "" {
				m.set.add(p)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark staged blocks: %w", err)
	}
	err = st.ListAllBlobBlocks(ctx, func(_, _, _ string, b galleon.ManifestBlock) error {
		m.set.add(b.Digest)
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark blob blocks: %w", err)
	}
	// One unpaged call: the store answers it from one snapshot, so a
	// reference copied from one resource to another while the mark runs
	// is seen in one of them (see the package comment).
	resources, _, err := st.ListResources(ctx, galleon.ResourceFilter{})
	if err != nil {
		return fmt.Errorf("mark resources: %w", err)
	}
	var refs []manifestRef
	var problems []error
	for _, r := range resources {
		rs, err := m.references(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			problems = append(problems, err)
			continue
		}
		refs = append(refs, rs...)
	}
	m.loaded = map[string]bool{}
	for _, ref := range refs {
		if err := m.markManifest(ctx, ref); err != nil {
			if ctx.Err() != nil {
				return err
			}
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// references lists the manifests a resource names: an image version's
// stored disks, or a managed disk's, snapshot's or managed image's.
func (m *marker) references(ctx context.Context, r *galleon.Resource) ([]manifestRef, error) {
	var disks []galleon.StoredDisk
	var prefer []string
	switch {
	case strings.EqualFold(r.Type, galleon.GalleryImageVersionType):
		vd, err := gallery.VersionDisksOf(r)
		if err != nil {
			return nil, unreadable(r, err)
		}
		if vd.OSDisk == nil {
			var p struct {
				ProvisioningState string `json:"provisioningState"`
			}
			if len(r.Properties) > 0 {
				if err := json.Unmarshal(r.Properties, &p); err != nil {
					return nil, unreadable(r, err)
				}
			}
			if p.ProvisioningState == galleon.ProvisioningCreating || p.ProvisioningState == galleon.ProvisioningUpdating {
				return nil, galleon.ReasonErrorf(galleon.EConflict, ReasonIngestPending,
					"the image version '%s' is still waiting for its disks to be copied from its source, whose blocks only the copy job knows; collection resumes once the version is created or has failed", r.ID)
			}
			return nil, nil
		}
		disks = append([]galleon.StoredDisk{*vd.OSDisk}, vd.DataDisks...)
		reps, err := m.c.Store.ListReplicas(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("list replicas of %s: %w", r.ID, err)
		}
		for _, rep := range reps {
			if galleon.NormalizeScope(rep.VersionID) == galleon.NormalizeScope(r.ID) && rep.Account != "" {
				prefer = append(prefer, rep.Account)
			}
		}
	case strings.EqualFold(r.Type, compute.DiskType), strings.EqualFold(r.Type, compute.SnapshotType), strings.EqualFold(r.Type, compute.ImageType):
		var in compute.Internal
		if len(r.Internal) > 0 {
			if err := json.Unmarshal(r.Internal, &in); err != nil {
				return nil, unreadable(r, err)
			}
		}
		disks = in.Disks
		// Compute keeps a resource's disks on the first Standard_LRS
		// account of its region (compute.Service.BlobStore).
		if rg, ok := galleon.LookupRegion(m.c.Accounts.Regions, r.Location); ok {
			prefer = append(prefer, storage.Name(rg.Name, storage.StandardLRS, 0))
		}
	default:
		return nil, nil
	}
	out := make([]manifestRef, 0, len(disks))
	for _, d := range disks {
		if _, ok := parseDigest(d.Manifest); !ok || strings.ToLower(d.Manifest) != d.Manifest {
			return nil, galleon.ReasonErrorf(galleon.EInternal, ReasonUnreadableReference,
				"the resource '%s' names the disk manifest %q, which is not a SHA-256 digest; its record is damaged", r.ID, d.Manifest)
		}
		out = append(out, manifestRef{resource: r.ID, digest: d.Manifest, prefer: prefer})
	}
	return out, nil
}

func unreadable(r *galleon.Resource, err error) error {
	return galleon.ReasonErrorf(galleon.EInternal, ReasonUnreadableReference,
		"the stored disks of the resource '%s' cannot be read (%v); its record is damaged", r.ID, err)
}

// markManifest loads a manifest from the first account that holds it
// intact, trying ref.prefer first, and marks it and its blocks.
func (m *marker) markManifest(ctx context.Context, ref manifestRef) error {
	if m.loaded[ref.digest] {
		return nil
	}
	var tried []string
	var last error
	for _, a := range m.order(ref.prefer) {
		mf, err := manifest.Load(ctx, a.store, ref.digest)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			tried, last = append(tried, a.name), err
			continue
		}
		m.set.add(ref.digest)
		for _, b := range mf.Blocks {
			m.set.add(b.Digest)
		}
		m.loaded[ref.digest] = true
		return nil
	}
	why := "there are no storage accounts"
	if len(tried) > 0 {
		why = fmt.Sprintf("it is missing or damaged in every storage account (%s; last: %s)", strings.Join(tried, ", "), errorText(last))
	}
	return galleon.ReasonErrorf(galleon.EInternal, ReasonManifestMissing,
		"the resource '%s' names the disk manifest %s, which cannot be loaded: %s. Restore the manifest block from a backup or delete the resource",
		ref.resource, ref.digest, why)
}

// errorText is an error's user message when it has one, else its text.
func errorText(err error) string {
	if e := galleon.AsError(err); e != nil {
		return e.Message
	}
	return err.Error()
}

// order returns the accounts with the preferred ones (by name) first.
func (m *marker) order(prefer []string) []account {
	out := make([]account, 0, len(m.accounts))
	first := map[string]bool{}
	for _, p := range prefer {
		for _, a := range m.accounts {
			if strings.EqualFold(a.name, p) && !first[a.name] {
				first[a.name] = true
				out = append(out, a)
			}
		}
	}
	for _, a := range m.accounts {
		if !first[a.name] {
			out = append(out, a)
		}
	}
	return out
}
