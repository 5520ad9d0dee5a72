package zrs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/galleonhq/galleon"
)

// Store writes every block to all of Zones and reads from the first zone
// with an intact copy.
type Store struct {
	Zones []galleon.BlockStore
}

// New returns a store over one backend per zone; it needs at least two.
func New(zones ...galleon.BlockStore) (*Store, error) {
	if len(zones) < 2 {
		return nil, galleon.ReasonErrorf(galleon.EInvalid, "ZoneRedundancyUnavailable",
			"a zone-redundant store needs at least 2 zones, got %d; configure zones for the region or use Standard_LRS", len(zones))
	}
	return &Store{Zones: zones}, nil
}

// each runs fn on every zone at once and returns the first error.
func (s *Store) each(fn func(i int, z galleon.BlockStore) error) error {
	errs := make([]error, len(s.Zones))
	var wg sync.WaitGroup
	for i, z := range s.Zones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, z)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("zone %d: %w", i+1, err)
		}
	}
	return nil
}

// PutBlock stores the block in every zone; it succeeds only when all do.
func (s *Store) PutBlock(ctx context.Context, digest string, data []byte) error {
	return s.each(func(_ int, z galleon.BlockStore) error { return z.PutBlock(ctx, digest, data) })
}

// GetBlock reads from the first zone with an intact copy and writes that
// copy back to the zones that lacked it or held a corrupt one.
func (s *Store) GetBlock(ctx context.Context, digest string) ([]byte, error) {
	var firstErr error
	var bad []galleon.BlockStore
	for _, z := range s.Zones {
		data, err := z.GetBlock(ctx, digest)
		if err == nil {
			for _, b := range bad {
				_ = b.DeleteBlock(ctx, digest)
				_ = b.PutBlock(ctx, digest, data) // best effort: the read already succeeded
			}
			return data, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch galleon.ErrorCode(err) {
		case galleon.ENotFound, galleon.EInternal:
			bad = append(bad, z)
		default:
			return nil, err
		}
		if firstErr == nil || galleon.ErrorCode(firstErr) == galleon.ENotFound {
			firstErr = err
		}
	}
	return nil, firstErr
}

// StatBlock reports the block as the zones hold it, with the newest ModTime
// among them (so a collector never sweeps a block a zone just refreshed).
func (s *Store) StatBlock(ctx context.Context, digest string) (galleon.BlockInfo, error) {
	var best galleon.BlockInfo
	var firstErr error
	found := false
	for _, z := range s.Zones {
		bi, err := z.StatBlock(ctx, digest)
		if err != nil {
			if galleon.ErrorCode(err) != galleon.ENotFound {
				return galleon.BlockInfo{}, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !found || bi.ModTime.After(best.ModTime) {
			best = bi
		}
		found = true
	}
	if !found {
		return galleon.BlockInfo{}, firstErr
	}
	return best, nil
}

// DeleteBlock removes the block from every zone.
func (s *Store) DeleteBlock(ctx context.Context, digest string) error {
	return s.each(func(_ int, z galleon.BlockStore) error { return z.DeleteBlock(ctx, digest) })
}

// DeleteBlockIfOlder removes the block from every zone whose copy is older
// than before; it reports true only if no zone kept a copy.
func (s *Store) DeleteBlockIfOlder(ctx context.Context, digest string, before time.Time) (bool, error) {
	var mu sync.Mutex
	kept, deleted := false, false
	err := s.each(func(_ int, z galleon.BlockStore) error {
		gone, err := z.DeleteBlockIfOlder(ctx, digest, before)
		if err != nil {
			return err
		}
		_, serr := z.StatBlock(ctx, digest)
		mu.Lock()
		defer mu.Unlock()
		deleted = deleted || gone
		kept = kept || serr == nil
		return nil
	})
	if err != nil {
		return false, err
	}
	return deleted && !kept, nil
}

// ListBlocks lists the union of the zones' blocks, each once, with the
// newest ModTime any zone has for it.
func (s *Store) ListBlocks(ctx context.Context, fn func(galleon.BlockInfo) error) error {
	all := map[string]galleon.BlockInfo{}
	for i, z := range s.Zones {
		err := z.ListBlocks(ctx, func(bi galleon.BlockInfo) error {
			if old, ok := all[bi.Digest]; !ok || bi.ModTime.After(old.ModTime) {
				all[bi.Digest] = bi
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("zone %d: %w", i+1, err)
		}
	}
	for _, bi := range all {
		if err := fn(bi); err != nil {
			return err
		}
	}
	return nil
}
