package storage

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/blob/zrs"
)

// Storage account SKUs a replica may ask for.
const (
	StandardLRS = "Standard_LRS"
	StandardZRS = "Standard_ZRS"
	PremiumLRS  = "Premium_LRS"
)

// SKU returns the canonical spelling of a storage account type, or an
// InvalidParameter error listing the supported ones.
func SKU(s string) (string, error) {
	for _, k := range []string{StandardLRS, StandardZRS, PremiumLRS} {
		if strings.EqualFold(k, s) {
			return k, nil
		}
	}
	return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter",
		Message: fmt.Sprintf("The storage account type '%s' is not supported; use Standard_LRS, Standard_ZRS or Premium_LRS.", s)}).WithTarget("storageAccountType")
}

// Accounts opens the storage accounts of the configured regions.
type Accounts struct {
	// Dir holds one directory per region, with one per account in it.
	Dir     string
	Regions []galleon.Region
	// Now is the clock blocks are stamped with (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	open map[string]galleon.BlockStore
}

// Name is the name of account n (0-based) of a SKU in a region, e.g.
// "eastus-standard-lrs-0".
func Name(region, sku string, n int) string {
	return fmt.Sprintf("%s-%s-%d", region, strings.ReplaceAll(strings.ToLower(sku), "_", "-"), n)
}

// Open returns the block store of account n of sku in region, creating it
// on first use. A ZRS account needs a region with at least two zones.
func (a *Accounts) Open(region, sku string, n int) (galleon.BlockStore, error) {
	rg, ok := galleon.LookupRegion(a.Regions, region)
	if !ok {
		return nil, galleon.ReasonErrorf(galleon.EInvalid, "InvalidRegion", "The region '%s' is not configured; regions are %s.", region, galleon.RegionNames(a.Regions))
	}
	sku, err := SKU(sku)
	if err != nil {
		return nil, err
	}
	name := Name(rg.Name, sku, n)
	a.mu.Lock()
	defer a.mu.Unlock()
	if bs, ok := a.open[name]; ok {
		return bs, nil
	}
	dir := filepath.Join(a.Dir, rg.Name, name)
	var bs galleon.BlockStore
	if sku == StandardZRS {
		if rg.Zones < 2 {
			return nil, galleon.ReasonErrorf(galleon.EInvalid, "ZoneRedundancyUnavailable",
				"The region '%s' has no availability zones, so it cannot hold Standard_ZRS replicas. Use Standard_LRS or Premium_LRS there.", rg.Name)
		}
		zones := make([]galleon.BlockStore, rg.Zones)
		for z := range zones {
			if zones[z], err = a.local(filepath.Join(dir, fmt.Sprintf("zone%d", z+1))); err != nil {
				return nil, err
			}
		}
		if bs, err = zrs.New(zones...); err != nil {
			return nil, err
		}
	} else if bs, err = a.local(dir); err != nil {
		return nil, err
	}
	if a.open == nil {
		a.open = map[string]galleon.BlockStore{}
	}
	a.open[name] = bs
	return bs, nil
}

func (a *Accounts) local(dir string) (galleon.BlockStore, error) {
	s, err := localfs.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage account at %s: %w", dir, err)
	}
	if a.Now != nil {
		s.Now = a.Now
	}
	return s, nil
}
