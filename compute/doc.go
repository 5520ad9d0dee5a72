// Package compute holds the rules of the Microsoft.Compute resources that
// feed image versions: managed disks (created empty for upload, filled
// through the blob data plane with a SAS from beginGetAccess, sealed by
// endGetAccess), snapshots of disks, and managed images made from a disk
// or snapshot. Each keeps, hidden in Resource.Internal, the stored disk
// manifest its content is.
//
// It imports the root package and the diskimage, manifest and storage
// packages.
package compute
