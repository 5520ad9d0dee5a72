// Package replication copies image versions' disks to the storage accounts
// of their target regions, as leased jobs (see package jobs):
//
//   - version.ingest copies the source disks into the version's own region
//     (its first replica) and records the version's stored disks;
//   - version.replicate makes every replica of one region: the first copy in
//     a region comes from the nearest region that already holds the
//     version (cross-region egress, counted), later ones from inside the
//     region. Only blocks the target account lacks are copied.
//
// Progress, byte counts, errors and retries are recorded per replica, so
// replicationStatus shows them; work is idempotent and resumes after a
// crash where it left off (already-copied blocks are not copied again).
//
// It imports the root package and the gallery, manifest and storage packages.
package replication
