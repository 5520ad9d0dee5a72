package galleon

// The types below are the properties objects of the Microsoft.Compute
// gallery resources, in the shape of the GalleryRP API (2025-03-03). They
// are stored as Resource.Properties and served as they are, so a field's
// JSON name is its ARM name.

// Resource types of the gallery family.
const (
	GalleryType             = "Microsoft.Compute/galleries"
	GalleryImageType        = "Microsoft.Compute/galleries/images"
	GalleryImageVersionType = "Microsoft.Compute/galleries/images/versions"
)

// Provisioning states of gallery artifacts.
const (
	ProvisioningCreating  = "Creating"
	ProvisioningUpdating  = "Updating"
	ProvisioningSucceeded = "Succeeded"
	ProvisioningFailed    = "Failed"
	ProvisioningDeleting  = "Deleting"
)

// GalleryProperties are a gallery's properties.
type GalleryProperties struct {
	Description       string             `json:"description,omitempty"`
	Identifier        *GalleryIdentifier `json:"identifier,omitempty"`
	ProvisioningState string             `json:"provisioningState,omitempty"`
	SharingProfile    *SharingProfile    `json:"sharingProfile,omitempty"`
	SharingStatus     *SharingStatus     `json:"sharingStatus,omitempty"`
	SoftDeletePolicy  *SoftDeletePolicy  `json:"softDeletePolicy,omitempty"`
}

// SharingStatus is the read-only state of a gallery's sharing, per region.
type SharingStatus struct {
	AggregatedState string                  `json:"aggregatedState"`
	Summary         []RegionalSharingStatus `json:"summary"`
}

// RegionalSharingStatus is the sharing state of a gallery in one region.
type RegionalSharingStatus struct {
	Region  string `json:"region"`
	State   string `json:"state"`
	Details string `json:"details,omitempty"`
}

// GalleryIdentifier holds the gallery's read-only unique name.
type GalleryIdentifier struct {
	UniqueName string `json:"uniqueName,omitempty"`
}

// Gallery sharing permissions.
const (
	SharingPrivate   = "Private"
	SharingGroups    = "Groups"
	SharingCommunity = "Community"
)

// SharingProfile says how a gallery is shared.
type SharingProfile struct {
	Permissions          string                `json:"permissions,omitempty"`
	Groups               []SharingProfileGroup `json:"groups,omitempty"`
	CommunityGalleryInfo *CommunityGalleryInfo `json:"communityGalleryInfo,omitempty"`
}

// SharingProfileGroup is a set of subscriptions or tenants a gallery is
// shared with.
type SharingProfileGroup struct {
	Type string   `json:"type"` // Subscriptions or AADTenants
	IDs  []string `json:"ids"`
}

// CommunityGalleryInfo is the public information of a community gallery.
type CommunityGalleryInfo struct {
	PublisherURI            string   `json:"publisherUri,omitempty"`
	PublisherContact        string   `json:"publisherContact,omitempty"`
	Eula                    string   `json:"eula,omitempty"`
	PublicNamePrefix        string   `json:"publicNamePrefix,omitempty"`
	CommunityGalleryEnabled bool     `json:"communityGalleryEnabled"`
	PublicNames             []string `json:"publicNames,omitempty"`
}

// SoftDeletePolicy is accepted and shown; Galleon does not soft-delete.
type SoftDeletePolicy struct {
	IsSoftDeleteEnabled bool `json:"isSoftDeleteEnabled"`
}

// GalleryImageProperties are an image definition's properties.
type GalleryImageProperties struct {
	Description         string                           `json:"description,omitempty"`
	Eula                string                           `json:"eula,omitempty"`
	PrivacyStatementURI string                           `json:"privacyStatementUri,omitempty"`
	ReleaseNoteURI      string                           `json:"releaseNoteUri,omitempty"`
	OSType              string                           `json:"osType,omitempty"`
	OSState             string                           `json:"osState,omitempty"`
	HyperVGeneration    string                           `json:"hyperVGeneration,omitempty"`
	EndOfLifeDate       string                           `json:"endOfLifeDate,omitempty"`
	Identifier          *GalleryImageIdentifier          `json:"identifier,omitempty"`
	Recommended         *RecommendedMachineConfiguration `json:"recommended,omitempty"`
	Disallowed          *Disallowed                      `json:"disallowed,omitempty"`
	PurchasePlan        *ImagePurchasePlan               `json:"purchasePlan,omitempty"`
	ProvisioningState   string                           `json:"provisioningState,omitempty"`
	Features            []GalleryImageFeature            `json:"features,omitempty"`
	Architecture        string                           `json:"architecture,omitempty"`
	AllowUpdateImage    *bool                            `json:"allowUpdateImage,omitempty"`
}

// GalleryImageIdentifier is the publisher/offer/sku triple, unique in a gallery.
type GalleryImageIdentifier struct {
	Publisher string `json:"publisher"`
	Offer     string `json:"offer"`
	SKU       string `json:"sku"`
}

// RecommendedMachineConfiguration is advisory sizing for VMs from an image.
type RecommendedMachineConfiguration struct {
	VCPUs  *ResourceRange `json:"vCPUs,omitempty"`
	Memory *ResourceRange `json:"memory,omitempty"`
}

// ResourceRange is an inclusive range; either end may be absent.
type ResourceRange struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// Disallowed lists disk types VMs from an image may not use.
type Disallowed struct {
	DiskTypes []string `json:"diskTypes,omitempty"`
}

// ImagePurchasePlan names a marketplace plan an image derives from.
type ImagePurchasePlan struct {
	Name      string `json:"name,omitempty"`
	Publisher string `json:"publisher,omitempty"`
	Product   string `json:"product,omitempty"`
}

// GalleryImageFeature is a named capability of an image (SecurityType, ...).
type GalleryImageFeature struct {
	Name            string `json:"name,omitempty"`
	Value           string `json:"value,omitempty"`
	StartsAtVersion string `json:"startsAtVersion,omitempty"`
}

// GalleryImageVersionProperties are an image version's properties.
type GalleryImageVersionProperties struct {
	PublishingProfile *VersionPublishingProfile `json:"publishingProfile,omitempty"`
	ProvisioningState string                    `json:"provisioningState,omitempty"`
	StorageProfile    *VersionStorageProfile    `json:"storageProfile,omitempty"`
	SafetyProfile     *VersionSafetyProfile     `json:"safetyProfile,omitempty"`
	// ReplicationStatus is computed from the replicas when a GET asks for
	// $expand=ReplicationStatus; it is never stored.
	ReplicationStatus *ReplicationStatus `json:"replicationStatus,omitempty"`
}

// VersionPublishingProfile says where a version is replicated and how it
// takes part in "latest".
type VersionPublishingProfile struct {
	TargetRegions      []TargetRegion `json:"targetRegions,omitempty"`
	ReplicaCount       *int           `json:"replicaCount,omitempty"`
	ExcludeFromLatest  *bool          `json:"excludeFromLatest,omitempty"`
	PublishedDate      string         `json:"publishedDate,omitempty"`
	EndOfLifeDate      string         `json:"endOfLifeDate,omitempty"`
	StorageAccountType string         `json:"storageAccountType,omitempty"`
	ReplicationMode    string         `json:"replicationMode,omitempty"`
}

// TargetRegion is one region a version replicates to.
type TargetRegion struct {
	Name                  string                 `json:"name"`
	RegionalReplicaCount  *int                   `json:"regionalReplicaCount,omitempty"`
	StorageAccountType    string                 `json:"storageAccountType,omitempty"`
	ExcludeFromLatest     *bool                  `json:"excludeFromLatest,omitempty"`
	AdditionalReplicaSets []AdditionalReplicaSet `json:"additionalReplicaSets,omitempty"`
	Encryption            *EncryptionImages      `json:"encryption,omitempty"`
}

// AdditionalReplicaSet asks for more replicas of another storage type.
type AdditionalReplicaSet struct {
	StorageAccountType   string `json:"storageAccountType,omitempty"`
	RegionalReplicaCount *int   `json:"regionalReplicaCount,omitempty"`
}

// EncryptionImages is accepted so it can be refused clearly where it is
// not supported (community galleries).
type EncryptionImages struct {
	OSDiskImage    map[string]any   `json:"osDiskImage,omitempty"`
	DataDiskImages []map[string]any `json:"dataDiskImages,omitempty"`
}

// VersionStorageProfile names the source of a version's disks.
type VersionStorageProfile struct {
	Source         *VersionSource  `json:"source,omitempty"`
	OSDiskImage    *DiskImage      `json:"osDiskImage,omitempty"`
	DataDiskImages []DataDiskImage `json:"dataDiskImages,omitempty"`
}

// VersionSource is a whole-version source: a managed image, another
// gallery image version, a community image, or a VM.
type VersionSource struct {
	ID                      string `json:"id,omitempty"`
	CommunityGalleryImageID string `json:"communityGalleryImageId,omitempty"`
	VirtualMachineID        string `json:"virtualMachineId,omitempty"`
}

// DiskImage is the OS disk of a version.
type DiskImage struct {
	SizeInGB    *int             `json:"sizeInGB,omitempty"`
	HostCaching string           `json:"hostCaching,omitempty"`
	Source      *DiskImageSource `json:"source,omitempty"`
}

// DataDiskImage is a data disk of a version.
type DataDiskImage struct {
	Lun         int              `json:"lun"`
	SizeInGB    *int             `json:"sizeInGB,omitempty"`
	HostCaching string           `json:"hostCaching,omitempty"`
	Source      *DiskImageSource `json:"source,omitempty"`
}

// DiskImageSource is a per-disk source: a disk or snapshot ID, or a VHD
// blob URI in a storage account.
type DiskImageSource struct {
	ID               string `json:"id,omitempty"`
	URI              string `json:"uri,omitempty"`
	StorageAccountID string `json:"storageAccountId,omitempty"`
}

// VersionSafetyProfile holds deletion guards and policy violations.
type VersionSafetyProfile struct {
	AllowDeletionOfReplicatedLocations *bool             `json:"allowDeletionOfReplicatedLocations,omitempty"`
	BlockDeletionBeforeEndOfLife       *bool             `json:"blockDeletionBeforeEndOfLife,omitempty"`
	ReportedForPolicyViolation         bool              `json:"reportedForPolicyViolation"`
	PolicyViolations                   []PolicyViolation `json:"policyViolations,omitempty"`
}

// PolicyViolation is a reported problem with a version.
type PolicyViolation struct {
	Category string `json:"category,omitempty"`
	Details  string `json:"details,omitempty"`
}

// ReplicationStatus is the per-region replication state of a version.
type ReplicationStatus struct {
	AggregatedState string                      `json:"aggregatedState"`
	Summary         []RegionalReplicationStatus `json:"summary"`
}

// RegionalReplicationStatus is one region's replication state.
type RegionalReplicationStatus struct {
	Region   string `json:"region"`
	State    string `json:"state"`
	Details  string `json:"details,omitempty"`
	Progress int    `json:"progress"`
}

// VersionDisks is the hidden record (Resource.Internal) of which stored
// disks make up an image version.
type VersionDisks struct {
	OSDisk    *StoredDisk  `json:"osDisk,omitempty"`
	DataDisks []StoredDisk `json:"dataDisks,omitempty"`
	// Operation is the long-running operation that ends when the version
	// is replicated everywhere.
	Operation string `json:"operation,omitempty"`
}

// StoredDisk is one disk of a version: the digest of its encoded manifest
// (stored as a block next to the disk's blocks) and its sizes.
type StoredDisk struct {
	Lun         *int   `json:"lun,omitempty"`
	Manifest    string `json:"manifest"`
	Size        int64  `json:"size"`
	StoredBytes int64  `json:"storedBytes"`
}
