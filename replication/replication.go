package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/storage"
)

// Job kinds.
const (
	JobIngest    = "version.ingest"
	JobReplicate = "version.replicate"
)

// Replicator runs the replication jobs.
type Replicator struct {
	Store    galleon.Store
	Gallery  *gallery.Service
	Accounts *storage.Accounts
	Regions  []galleon.Region
	// Notify wakes the job workers after jobs are queued (may be nil).
	Notify func()
	Logger *slog.Logger
	// ProgressEvery is the least time between progress writes (default 1s).
	ProgressEvery time.Duration
	// BlobContent returns a blob's content as a manifest over the block
	// store holding it (blobapi.Server.Manifest), for VHD-blob sources.
	BlobContent func(ctx context.Context, b *galleon.Blob) (*galleon.DiskManifest, galleon.BlockStore, error)

	// mu serializes finishing a version, so concurrent region jobs agree.
	mu sync.Mutex
}

// IngestPayload is the payload of a version.ingest job.
type IngestPayload struct {
	VersionID string               `json:"versionId"`
	Sources   []gallery.DiskSource `json:"sources"`
}

type replicatePayload struct {
	VersionID string `json:"versionId"`
	Region    string `json:"region"`
}

// Handlers returns the job handlers by kind.
func (r *Replicator) Handlers() map[string]func(context.Context, *galleon.Job) error {
	return map[string]func(context.Context, *galleon.Job) error{
		JobIngest:    r.ingest,
		JobReplicate: r.replicate,
	}
}

func (r *Replicator) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// QueueReplication queues the replicate jobs of the given regions.
func (r *Replicator) QueueReplication(ctx context.Context, versionID string, regions []string) error {
	seen := map[string]bool{}
	for _, region := range regions {
		if seen[region] {
			continue
		}
		seen[region] = true
		b, _ := json.Marshal(replicatePayload{VersionID: versionID, Region: region})
		if err := r.Store.EnqueueJob(ctx, &galleon.Job{Kind: JobReplicate, Payload: b, MaxAttempts: 8}); err != nil {
			return err
		}
	}
	if r.Notify != nil {
		r.Notify()
	}
	return nil
}

// loadVersion returns the version, or nil if it was deleted meanwhile.
func (r *Replicator) loadVersion(ctx context.Context, id string) (*galleon.Resource, *galleon.VersionDisks, error) {
	v, err := r.Store.GetResource(ctx, id)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	disks, err := gallery.VersionDisksOf(v)
	return v, disks, err
}

func (r *Replicator) replicas(ctx context.Context, versionID string) ([]*galleon.Replica, error) {
	all, err := r.Store.ListReplicas(ctx, versionID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, x := range all {
		if galleon.NormalizeScope(x.VersionID) == galleon.NormalizeScope(versionID) {
			out = append(out, x)
		}
	}
	return out, nil
}

func accountIndex(rep *galleon.Replica) int {
	n := 0
	if i := strings.LastIndex(rep.Account, "-"); i >= 0 {
		fmt.Sscanf(rep.Account[i+1:], "%d", &n)
	}
	return n
}

// progressWriter records a replica's progress at most every ProgressEvery.
func (r *Replicator) progressWriter(ctx context.Context, rep *galleon.Replica, total int64) func(done int64) {
	every := r.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	last := time.Time{}
	return func(done int64) {
		if total <= 0 || time.Since(last) < every {
			return
		}
		last = time.Now()
		p := int(done * 100 / total)
		if p >= 100 {
			p = 99
		}
		rep.Progress = p
		rep.Details = fmt.Sprintf("Copying: %d of %d bytes", done, total)
		if err := r.Store.PutReplica(ctx, rep); err != nil {
			r.logger().Warn("record replication progress", "version", rep.VersionID, "region", rep.Region, "err", err)
		}
	}
}

// copyDisks makes every disk present on dst, returning bytes copied.
func (r *Replicator) copyDisks(ctx context.Context, src, dst galleon.BlockStore, digests []string, progress func(int64)) (int64, error) {
	var ms []*galleon.DiskManifest
	for _, d := range digests {
		m, err := manifest.Load(ctx, src, d)
		if err != nil {
			return 0, fmt.Errorf("load manifest %s: %w", d, err)
		}
		ms = append(ms, m)
	}
	var copied, base int64
	for _, m := range ms {
		stats, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{Progress: func(done, _ int64) {
			if progress != nil {
				progress(base + done)
			}
		}})
		if err != nil {
			return copied, err
		}
		copied += stats.BytesCopied
		base += m.StoredBytes()
	}
	return copied, nil
}

func (r *Replicator) ingest(ctx context.Context, j *galleon.Job) error {
	var p IngestPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return galleon.Errorf(galleon.EInvalid, "bad ingest payload: %v", err)
	}
	v, _, err := r.loadVersion(ctx, p.VersionID)
	if err != nil || v == nil {
		return err
	}
	reps, err := r.replicas(ctx, v.ID)
	if err != nil {
		return err
	}
	var first *galleon.Replica
	for _, rep := range reps {
		if rep.Region == v.Location && rep.Index == 0 {
			first = rep
		}
	}
	if first == nil {
		return galleon.Errorf(galleon.EConflict, "version %s has no replica in its own region %s", v.ID, v.Location)
	}
	dst, err := r.Accounts.Open(first.Region, first.StorageAccountType, accountIndex(first))
	if err != nil {
		return err
	}
	for i, src := range p.Sources {
		if src.Blob == nil {
			continue
		}
		converted, err := r.convertBlob(ctx, src)
		if err != nil {
			return r.failed(ctx, j, first, v.ID, err)
		}
		p.Sources[i] = converted
	}
	disks := &galleon.VersionDisks{}
	var copied, egress, stored int64
	var totalStored int64
	for _, s := range p.Sources {
		totalStored += s.StoredBytes
	}
	progress := r.progressWriter(ctx, first, totalStored)
	var done int64
	for _, s := range p.Sources {
		src, err := r.Accounts.Open(s.Region, s.StorageAccountType, s.AccountIndex)
		if err != nil {
			return err
		}
		base := done
		n, err := r.copyDisks(ctx, src, dst, []string{s.Manifest}, func(d int64) { progress(base + d) })
		if err != nil {
			return r.failed(ctx, j, first, v.ID, err)
		}
		done += s.StoredBytes
		copied += n
		if !strings.EqualFold(s.Region, first.Region) {
			egress += n
		}
		stored += s.StoredBytes
		sd := galleon.StoredDisk{Lun: s.Lun, Manifest: s.Manifest, Size: s.Size, StoredBytes: s.StoredBytes}
		if s.Lun == nil {
			disks.OSDisk = &sd
		} else {
			disks.DataDisks = append(disks.DataDisks, sd)
		}
	}
	if old, err := gallery.VersionDisksOf(v); err == nil {
		disks.Operation = old.Operation
	}
	if err := r.Gallery.SetVersionState(ctx, v.ID, galleon.ProvisioningCreating, disks); err != nil {
		return err
	}
	first.State, first.Progress, first.Details = galleon.ReplicaCompleted, 100, ""
	first.StoredBytes, first.CopiedBytes, first.EgressBytes, first.SourceRegion = stored, copied, egress, p.Sources[0].Region
	if err := r.Store.PutReplica(ctx, first); err != nil {
		return err
	}
	var regions []string
	for _, rep := range reps {
		if rep.State != galleon.ReplicaCompleted && !(rep.Region == first.Region && rep.Index == 0) {
			regions = append(regions, rep.Region)
		}
	}
	if err := r.QueueReplication(ctx, v.ID, regions); err != nil {
		return err
	}
	return r.finish(ctx, v.ID)
}

// convertBlob stores a VHD blob's logical content as a disk in its region
// (idempotent: running it again finds the blocks present).
func (r *Replicator) convertBlob(ctx context.Context, src gallery.DiskSource) (gallery.DiskSource, error) {
	b, err := r.Store.GetBlob(ctx, src.Blob.Account, src.Blob.Container, src.Blob.Name)
	if err != nil {
		return src, err
	}
	if r.BlobContent == nil {
		return src, galleon.Errorf(galleon.ENotImplemented, "VHD blob sources are not available on this server")
	}
	content, bs, err := r.BlobContent(ctx, b)
	if err != nil {
		return src, err
	}
	img, err := diskimage.Open(manifest.NewReader(ctx, bs, content), content.Size)
	if err != nil {
		var fe *diskimage.FormatError
		if errors.As(err, &fe) {
			return src, galleon.ReasonErrorf(galleon.EInvalid, "InvalidSourceImage",
				"The blob '%s/%s/%s' is not a usable disk image: %v", b.Account, b.Container, b.Name, err)
		}
		return src, err
	}
	dst, err := r.Accounts.Open(b.Region, storage.StandardLRS, 0)
	if err != nil {
		return src, err
	}
	m, err := manifest.Ingest(ctx, dst, img, img.Size, manifest.IngestOptions{Skip: func(off, n int64) bool {
		ok, err := img.Allocated(off, n)
		return err == nil && !ok
	}})
	if err != nil {
		return src, err
	}
	digest, err := manifest.Store(ctx, dst, m)
	if err != nil {
		return src, err
	}
	return gallery.DiskSource{Lun: src.Lun, Manifest: digest, Size: m.Size, StoredBytes: m.StoredBytes(), Region: b.Region,
		StorageAccountType: storage.StandardLRS}, nil
}

// distance is the great-circle distance between two regions in km.
func distance(a, b galleon.Region) float64 {
	const rad = math.Pi / 180
	la1, lo1, la2, lo2 := a.Latitude*rad, a.Longitude*rad, b.Latitude*rad, b.Longitude*rad
	h := math.Pow(math.Sin((la2-la1)/2), 2) + math.Cos(la1)*math.Cos(la2)*math.Pow(math.Sin((lo2-lo1)/2), 2)
	return 2 * 6371 * math.Asin(math.Sqrt(h))
}

// source picks where a replica in region copies from: a completed replica
// in the same region, else the one in the nearest region.
func (r *Replicator) source(region string, reps []*galleon.Replica) *galleon.Replica {
	here, _ := galleon.LookupRegion(r.Regions, region)
	var best *galleon.Replica
	bestD := math.Inf(1)
	for _, rep := range reps {
		if rep.State != galleon.ReplicaCompleted {
			continue
		}
		if rep.Region == region {
			return rep
		}
		there, _ := galleon.LookupRegion(r.Regions, rep.Region)
		if d := distance(here, there); d < bestD {
			best, bestD = rep, d
		}
	}
	return best
}

func (r *Replicator) replicate(ctx context.Context, j *galleon.Job) error {
	var p replicatePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return galleon.Errorf(galleon.EInvalid, "bad replicate payload: %v", err)
	}
	v, disks, err := r.loadVersion(ctx, p.VersionID)
	if err != nil || v == nil {
		return err
	}
	if disks.OSDisk == nil {
		return fmt.Errorf("version %s is not ingested yet", v.ID)
	}
	digests := []string{disks.OSDisk.Manifest}
	var stored = disks.OSDisk.StoredBytes
	for _, d := range disks.DataDisks {
		digests = append(digests, d.Manifest)
		stored += d.StoredBytes
	}
	reps, err := r.replicas(ctx, v.ID)
	if err != nil {
		return err
	}
	sort.Slice(reps, func(a, b int) bool { return reps[a].Index < reps[b].Index })
	for _, rep := range reps {
		if rep.Region != p.Region || rep.State == galleon.ReplicaCompleted {
			continue
		}
		src := r.source(p.Region, reps)
		if src == nil {
			return fmt.Errorf("no completed replica of %s to copy from yet", v.ID)
		}
		from, err := r.Accounts.Open(src.Region, src.StorageAccountType, accountIndex(src))
		if err != nil {
			return err
		}
		to, err := r.Accounts.Open(rep.Region, rep.StorageAccountType, accountIndex(rep))
		if err != nil {
			return r.failed(ctx, j, rep, v.ID, err)
		}
		rep.State, rep.Details = galleon.ReplicaReplicating, "Copying from "+src.Region
		copied, err := r.copyDisks(ctx, from, to, digests, r.progressWriter(ctx, rep, stored))
		if err != nil {
			return r.failed(ctx, j, rep, v.ID, err)
		}
		if still, _, err := r.loadVersion(ctx, v.ID); err != nil || still == nil {
			return err // deleted meanwhile: record nothing
		}
		rep.State, rep.Progress, rep.Details, rep.SourceRegion = galleon.ReplicaCompleted, 100, "", src.Region
		rep.StoredBytes, rep.CopiedBytes = stored, copied
		if src.Region != rep.Region {
			rep.EgressBytes = copied
		}
		if err := r.Store.PutReplica(ctx, rep); err != nil {
			return err
		}
	}
	return r.finish(ctx, v.ID)
}

// failed records a copy failure on the replica; on the job's last attempt
// the replica, the version and its operation become Failed.
func (r *Replicator) failed(ctx context.Context, j *galleon.Job, rep *galleon.Replica, versionID string, cause error) error {
	final := j.MaxAttempts > 0 && j.Attempts >= j.MaxAttempts
	switch galleon.ErrorCode(cause) { // the worker will not retry these either
	case galleon.EInvalid, galleon.EForbidden, galleon.ENotFound, galleon.EConflict, galleon.EPreconditionFailed:
		final = true
	}
	rep.Details = fmt.Sprintf("Attempt %d failed: %s", j.Attempts, galleon.ErrorMessage(cause))
	if e := galleon.AsError(cause); e == nil {
		rep.Details = fmt.Sprintf("Attempt %d failed: %v", j.Attempts, cause)
	}
	if final {
		rep.State = galleon.ReplicaFailed
	}
	if err := r.Store.PutReplica(ctx, rep); err != nil {
		r.logger().Warn("record replica failure", "err", err)
	}
	if final {
		r.setFinal(ctx, versionID, galleon.ProvisioningFailed, galleon.ReasonErrorf(galleon.EInternal, "ReplicationFailed",
			"Replicating to region '%s' failed: %s", rep.Region, rep.Details))
	}
	return cause
}

// finish marks the version Succeeded once every replica is complete.
func (r *Replicator) finish(ctx context.Context, versionID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	reps, err := r.replicas(ctx, versionID)
	if err != nil {
		return err
	}
	for _, rep := range reps {
		if rep.State != galleon.ReplicaCompleted {
			return nil
		}
	}
	r.setFinal(ctx, versionID, galleon.ProvisioningSucceeded, nil)
	return nil
}

func (r *Replicator) setFinal(ctx context.Context, versionID, state string, cause *galleon.Error) {
	v, disks, err := r.loadVersion(ctx, versionID)
	if err != nil || v == nil {
		return
	}
	if err := r.Gallery.SetVersionState(ctx, versionID, state, nil); err != nil {
		r.logger().Warn("set version state", "version", versionID, "err", err)
	}
	if disks.Operation == "" {
		return
	}
	op, err := r.Store.GetOperation(ctx, disks.Operation)
	if err != nil || op.Done() {
		return
	}
	now := time.Now().UTC()
	op.EndTime = &now
	op.Status, op.PercentComplete = galleon.OperationSucceeded, 100
	if cause != nil {
		op.Status, op.Error = galleon.OperationFailed, cause
	}
	if err := r.Store.UpdateOperation(ctx, op); err != nil {
		r.logger().Warn("finish operation", "operation", op.ID, "err", err)
	}
}
