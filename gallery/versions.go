package gallery

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/storage"
)

// Version is a parsed MAJOR.MINOR.PATCH version name (V1).
type Version struct{ Major, Minor, Patch int32 }

// Less orders versions by major, then minor, then patch.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// ParseVersion parses a version name: three dot-separated non-negative
// 32-bit integers.
func ParseVersion(name string) (Version, error) {
	bad := invalid("galleryImageVersionName", "InvalidGalleryImageVersionName",
		"The version name '%s' is invalid: use MAJOR.MINOR.PATCH with three whole numbers from 0 to %d, like 1.0.0.", name, math.MaxInt32)
	parts := strings.Split(name, ".")
	if len(parts) != 3 {
		return Version{}, bad
	}
	var n [3]int32
	for i, p := range parts {
		if p == "" || len(p) > 10 || strings.TrimLeft(p, "0123456789") != "" {
			return Version{}, bad
		}
		v, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return Version{}, bad
		}
		n[i] = int32(v)
	}
	return Version{n[0], n[1], n[2]}, nil
}

// ReplicaSpec is one replica a version asks for: replica Index of its
// region (counting every storage type), kept on account AccountIndex of its
// storage type there.
type ReplicaSpec struct {
	Region             string
	Index              int
	StorageAccountType string
	AccountIndex       int
}

// normalizePublishing validates a publishing profile and fills defaults:
// target regions default to the version's location, which must be among
// them (V4); a region's replica count falls back to replicaCount, then 1
// (V5); its storage type to the profile's, then Standard_LRS (R4).
func (s *Service) normalizePublishing(p *galleon.VersionPublishingProfile, location string) error {
	if p.ReplicaCount != nil && *p.ReplicaCount < 1 {
		return invalid("properties.publishingProfile.replicaCount", "InvalidParameter", "replicaCount must be at least 1.")
	}
	if p.StorageAccountType == "" {
		p.StorageAccountType = storage.StandardLRS
	}
	sku, err := storage.SKU(p.StorageAccountType)
	if err != nil {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter", Message: galleon.ErrorMessage(err)}).WithTarget("properties.publishingProfile.storageAccountType")
	}
	p.StorageAccountType = sku
	if len(p.TargetRegions) == 0 {
		p.TargetRegions = []galleon.TargetRegion{{Name: location}}
	}
	seen := map[string]bool{}
	hasSource := false
	for i := range p.TargetRegions {
		tr := &p.TargetRegions[i]
		field := fmt.Sprintf("properties.publishingProfile.targetRegions[%d]", i)
		rg, ok := galleon.LookupRegion(s.Regions, tr.Name)
		if !ok {
			return invalid(field+".name", "InvalidParameter", "Target region '%s' is not available. Available regions: %s.", tr.Name, galleon.RegionNames(s.Regions))
		}
		if seen[rg.Name] {
			return invalid(field+".name", "InvalidParameter", "Target region '%s' is listed twice; list each region once.", rg.Name)
		}
		seen[rg.Name] = true
		tr.Name = rg.Name
		hasSource = hasSource || rg.Name == location
		if tr.RegionalReplicaCount == nil {
			n := 1
			if p.ReplicaCount != nil {
				n = *p.ReplicaCount
			}
			tr.RegionalReplicaCount = &n
		}
		if tr.StorageAccountType == "" {
			tr.StorageAccountType = p.StorageAccountType
		}
		if tr.StorageAccountType, err = storage.SKU(tr.StorageAccountType); err != nil {
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter", Message: galleon.ErrorMessage(err)}).WithTarget(field + ".storageAccountType")
		}
		total := *tr.RegionalReplicaCount
		for j := range tr.AdditionalReplicaSets {
			set := &tr.AdditionalReplicaSets[j]
			if set.StorageAccountType, err = storage.SKU(set.StorageAccountType); err != nil {
				return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter", Message: galleon.ErrorMessage(err)}).WithTarget(fmt.Sprintf("%s.additionalReplicaSets[%d].storageAccountType", field, j))
			}
			if set.StorageAccountType == tr.StorageAccountType {
				return invalid(fmt.Sprintf("%s.additionalReplicaSets[%d].storageAccountType", field, j), "InvalidParameter",
					"An additional replica set must use another storage type than the region's (%s).", tr.StorageAccountType)
			}
			if set.RegionalReplicaCount == nil || *set.RegionalReplicaCount < 1 {
				return invalid(fmt.Sprintf("%s.additionalReplicaSets[%d].regionalReplicaCount", field, j), "InvalidParameter", "regionalReplicaCount must be at least 1.")
			}
			total += *set.RegionalReplicaCount
		}
		if *tr.RegionalReplicaCount < 1 {
			return invalid(field+".regionalReplicaCount", "InvalidParameter", "regionalReplicaCount must be at least 1.")
		}
		if max := s.Limits.ReplicasPerVersion; max > 0 && total > max {
			return galleon.ReasonErrorf(galleon.EConflict, "QuotaExceeded",
				"Region '%s' asks for %d replicas of this version; at most %d are allowed per region. Lower regionalReplicaCount.", rg.Name, total, max).WithTarget(field + ".regionalReplicaCount")
		}
		if tr.Encryption != nil {
			return (&galleon.Error{Code: galleon.ENotImplemented, Reason: "EncryptionNotSupported",
				Message: "Disk encryption sets are not supported by Galleon; leave targetRegions[].encryption out."}).WithTarget(field + ".encryption")
		}
	}
	if !hasSource {
		return invalid("properties.publishingProfile.targetRegions", "InvalidParameter",
			"The version's location '%s' (its source region) must be one of its target regions. Add it to targetRegions.", location)
	}
	if p.EndOfLifeDate != "" {
		t, err := ParseDate(p.EndOfLifeDate)
		if err != nil {
			return invalid("properties.publishingProfile.endOfLifeDate", "InvalidParameter", "endOfLifeDate '%s' is not a date-time like 2030-12-31T00:00:00Z.", p.EndOfLifeDate)
		}
		p.EndOfLifeDate = t.Format(time.RFC3339)
	}
	switch strings.ToLower(p.ReplicationMode) {
	case "", "full":
		p.ReplicationMode = "Full"
	case "shallow":
		p.ReplicationMode = "Shallow"
	default:
		return invalid("properties.publishingProfile.replicationMode", "InvalidParameter", "replicationMode must be Full or Shallow.")
	}
	return nil
}

// Replicas lists the replicas a (normalized) publishing profile asks for,
// by region: the region's own storage type first, then additional sets.
// The n-th replica of a storage type in a region is on that type's account
// n, so a region's replicas are on distinct accounts.
func Replicas(p *galleon.VersionPublishingProfile) []ReplicaSpec {
	var out []ReplicaSpec
	for _, tr := range p.TargetRegions {
		next, index := map[string]int{}, 0
		add := func(sku string, n int) {
			for i := 0; i < n; i++ {
				out = append(out, ReplicaSpec{Region: tr.Name, Index: index, StorageAccountType: sku, AccountIndex: next[sku]})
				next[sku]++
				index++
			}
		}
		add(tr.StorageAccountType, *tr.RegionalReplicaCount)
		for _, set := range tr.AdditionalReplicaSets {
			add(set.StorageAccountType, *set.RegionalReplicaCount)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out
}
