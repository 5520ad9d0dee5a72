package galleon

import (
	"context"
	"time"
)

// Replication states of a replica, as replicationStatus reports them.
const (
	ReplicaReplicating = "Replicating"
	ReplicaCompleted   = "Completed"
	ReplicaFailed      = "Failed"
)

// Replica is one full copy of an image version on one storage account of a
// region. Replica Index n of a SKU in a region lives on that SKU's account n.
type Replica struct {
	VersionID          string    `json:"versionId"`
	Region             string    `json:"region"`
	Index              int       `json:"index"`
	StorageAccountType string    `json:"storageAccountType"`
	Account            string    `json:"account"`
	State              string    `json:"state"`
	Progress           int       `json:"progress"` // percent
	Details            string    `json:"details,omitempty"`
	SourceRegion       string    `json:"sourceRegion,omitempty"`
	StoredBytes        int64     `json:"storedBytes"` // bytes the replica occupies
	CopiedBytes        int64     `json:"copiedBytes"` // bytes moved to make it
	EgressBytes        int64     `json:"egressBytes"` // of those, bytes that crossed regions
	UpdatedAt          time.Time `json:"updatedAt"`
}

// ReplicaStore holds the replicas of image versions.
type ReplicaStore interface {
	// PutReplica inserts or replaces the replica (VersionID, Region, Index),
	// setting UpdatedAt.
	PutReplica(ctx context.Context, r *Replica) error
	// ListReplicas lists the replicas of versions at or under scope (one
	// version's ID, an image's, a subscription's), by version, region, index.
	ListReplicas(ctx context.Context, scope string) ([]*Replica, error)
	// DeleteReplica removes one replica. ENotFound if absent.
	DeleteReplica(ctx context.Context, versionID, region string, index int) error
}
