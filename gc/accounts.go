package gc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/storage"
)

// account is one storage account found on disk.
type account struct {
	name  string // storage.Name of it
	store galleon.BlockStore
}

// skus are the storage account types an account directory may be named for.
var skus = []string{storage.StandardLRS, storage.StandardZRS, storage.PremiumLRS}

// parseAccount reads an account directory's name back into its SKU and
// number: the inverse of storage.Name for region. Only the exact spelling
// storage.Name produces is accepted ("eastus-standard-lrs-0", not
// "eastus-standard-lrs-00").
func parseAccount(region, dir string) (sku string, n int, ok bool) {
	for _, sku := range skus {
		prefix := strings.TrimSuffix(storage.Name(region, sku, 0), "0")
		rest, found := strings.CutPrefix(dir, prefix)
		if !found {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || storage.Name(region, sku, n) != dir {
			continue
		}
		return sku, n, true
	}
	return "", 0, false
}

// discover opens every storage account that has a directory under
// Accounts.Dir. Directories that are not accounts of a configured region
// are logged and left alone; accounts that fail to open are returned as
// problems (their blocks are not swept).
func (c *Collector) discover(ctx context.Context) ([]account, []error) {
	root := c.Accounts.Dir
	regionDirs, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, []error{fmt.Errorf("list storage regions in %s: %w", root, err)}
	}
	configured := map[string]bool{}
	for _, r := range c.Accounts.Regions {
		configured[r.Name] = true
	}
	var out []account
	var problems []error
	for _, rd := range regionDirs {
		if !rd.IsDir() {
			continue
		}
		region := rd.Name()
		if !configured[region] {
			c.logger().Warn("garbage collection skips a storage directory that is not a configured region; its blocks are never collected",
				"dir", filepath.Join(root, region))
			continue
		}
		dirs, err := os.ReadDir(filepath.Join(root, region))
		if err != nil {
			problems = append(problems, fmt.Errorf("list storage accounts of region %s: %w", region, err))
			continue
		}
		for _, d := range dirs {
			if ctx.Err() != nil {
				return out, problems
			}
			if !d.IsDir() {
				continue
			}
			sku, n, ok := parseAccount(region, d.Name())
			if !ok {
				c.logger().Warn("garbage collection skips a directory that is not a storage account",
					"dir", filepath.Join(root, region, d.Name()))
				continue
			}
			bs, err := c.Accounts.Open(region, sku, n)
			if err != nil {
				problems = append(problems, fmt.Errorf("open storage account %s: %w", d.Name(), err))
				continue
			}
			out = append(out, account{name: d.Name(), store: bs})
		}
	}
	return out, problems
}
