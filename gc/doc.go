// Package gc collects the blocks of disk data nothing references any more:
// the blocks of deleted versions, disks, snapshots and images, of
// overwritten or deleted blobs, and of abandoned uploads. A Collector runs a
// mark-and-sweep over every storage account under storage.Accounts.Dir.
//
// # Mark
//
// The mark reads, at or after its start time S, every place that names a
// block:
//
//   - the pieces of every uncommitted staged block (Put Block);
//   - every blob's block map (page blobs, committed block blobs);
//   - the stored disks of every image version (gallery.VersionDisksOf) and
//     of every managed disk, snapshot and managed image
//     (compute.Internal.Disks): each names a manifest, itself a block, which
//     is loaded (from the accounts of the version's replicas or the
//     resource's region first, then from any account) and marked together
//     with every block it lists.
//
// The mark is global: a digest referenced anywhere is kept in every account.
// That keeps a version's blocks on accounts it was copied to but no longer
// has a replica on, in exchange for never needing to know which account a
// copy in flight is headed for.
//
// If a referenced manifest cannot be loaded from any account, or a version
// is still waiting for its disks to be copied from its source (Creating with
// no stored disks: the source manifests live only in the ingest job's
// payload), or a resource's record cannot be read, the collector does not
// know every reference, so it sweeps nothing and reports the problem.
//
// # Sweep
//
// For every account directory DIR/{region}/{account} (opened through
// storage.Accounts.Open, so a Standard_ZRS account's zones are listed and
// deleted from together), the sweep deletes each block that is not marked
// and whose ModTime is before S − Grace. Just before deleting a block it
// stats it again, so a block re-put since the listing is kept.
//
// # Why this never races a write in progress
//
// Writers follow the galleon.BlockStore contract: they PutBlock every block
// a new reference will name (re-putting a present block refreshes its
// ModTime) and only then commit the reference (a blob's block map, a staged
// block, a resource's stored disks). Take a block B that some reference R
// names when the sweep deletes B. Either
//
//  1. R was committed when the mark read the place R lives in: then B is
//     marked and not deleted; or
//  2. R was committed after that read, so after S. Its writer put B at some
//     time P before committing, and P > S − Grace as long as no write takes
//     longer than Grace from its first PutBlock to its commit. Then
//     ModTime(B) ≥ P > S − Grace and B is kept.
//
// Writes that move a reference instead of writing blocks are covered too.
// Uploads reach a disk by re-putting every block (Seal ingests the blob),
// and Put Block List re-puts the blocks it assembles. Copies between
// resources (a snapshot or image made from a disk, a version's stored disks
// recorded by its ingest job) are read from one ListResources call, which
// the SQL stores answer from one snapshot: a reference copied after it was
// copied from a resource that either was in the snapshot (so marked) or got
// it later the same way. The ingest job is the one copy whose source is not
// a resource, which is why a version waiting for it stops the sweep.
//
// Grace (default one hour) must therefore exceed the longest write: an
// upload's block written to its block map, a Put Block's pieces to their
// staged record, a capture or ingest from its first block to its commit.
// Raise it for very large captures.
//
// The sweep deletes with BlockStore.DeleteBlockIfOlder, which is atomic
// with PutBlock: a writer that re-puts an old, unreferenced block while the
// sweep deletes it either refreshes it first (and it is kept) or writes a
// fresh copy after (which survives).
//
// Allowed imports: the standard library, the root package, and the compute,
// gallery, manifest and storage packages.
package gc
