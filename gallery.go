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
	SoftDeletePolicy  *SoftDeletePolicy  `json:"softDeletePolicy,omitempty"`
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
