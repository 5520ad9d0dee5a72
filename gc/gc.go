package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/storage"
)

// Defaults of the Collector's durations.
const (
	// DefaultGrace is how old an unreferenced block must be before it is
	// swept: longer than any write takes from its first block to its
	// commit.
	DefaultGrace = time.Hour
	// DefaultInterval is how often Run collects.
	DefaultInterval = 6 * time.Hour
)

// Reasons of the errors that stop a pass before its sweep.
const (
	// ReasonManifestMissing: a resource names a disk manifest that no
	// storage account holds intact.
	ReasonManifestMissing = "ManifestMissing"
	// ReasonIngestPending: an image version is still waiting for its
	// disks to be copied from its source.
	ReasonIngestPending = "IngestPending"
	// ReasonUnreadableReference: a resource's record of its disks cannot
	// be decoded.
	ReasonUnreadableReference = "UnreadableReference"
)

// Collector deletes the blocks no blob, staged block, image version,
// disk, snapshot or managed image references (see the package comment).
type Collector struct {
	Store    galleon.Store
	Accounts *storage.Accounts
	// Grace is how old (by ModTime) an unreferenced block must be before
	// it is deleted (default DefaultGrace).
	Grace time.Duration
	// Now is the clock the mark's start is read from. It must be the
	// clock blocks are stamped with, so it defaults to Accounts.Now and
	// then to time.Now.
	Now func() time.Time
	// Logger receives one line per pass (default slog.Default()).
	Logger *slog.Logger
	// Interval is the time between Run's passes (default DefaultInterval).
	Interval time.Duration
}

// Stats counts what one pass did.
type Stats struct {
	// BlocksMarked is the number of distinct digests found referenced,
	// manifests included.
	BlocksMarked int
	// BlocksSwept and BytesSwept count the blocks deleted, over all
	// accounts.
	BlocksSwept int
	BytesSwept  int64
	// BlocksKept counts unreferenced blocks left in place because they are
	// younger than the grace period (a write may be about to reference
	// them).
	BlocksKept int
	// Accounts is the number of storage accounts swept.
	Accounts int
}

func (c *Collector) now() time.Time {
	switch {
	case c.Now != nil:
		return c.Now()
	case c.Accounts != nil && c.Accounts.Now != nil:
		return c.Accounts.Now()
	}
	return time.Now()
}

func (c *Collector) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// RunOnce runs one mark-and-sweep pass. If the mark cannot establish every
// reference (a manifest missing everywhere, a version still ingesting, an
// unreadable record, a store error) it deletes nothing and returns the
// problem. Otherwise it sweeps every account, carrying on past an account
// that fails, and returns the failures joined. Stats are valid either way.
func (c *Collector) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	if c.Store == nil || c.Accounts == nil {
		return st, galleon.Errorf(galleon.EInvalid, "garbage collection needs a store and the storage accounts; set Collector.Store and Collector.Accounts")
	}
	grace := c.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	if grace < 0 {
		return st, galleon.Errorf(galleon.EInvalid, "garbage collection grace %s is negative; give a duration longer than the longest write, such as 1h", grace).WithTarget("grace")
	}
	start := c.now()
	cutoff := start.Add(-grace)

	accounts, problems := c.discover(ctx)
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("garbage collection: %w", err)
	}
	m := &marker{c: c, accounts: accounts, set: digestSet{}}
	err := m.mark(ctx)
	st.BlocksMarked = len(m.set)
	if err != nil {
		return st, fmt.Errorf("garbage collection swept nothing: %w", err)
	}
	for _, a := range accounts {
		if err := c.sweep(ctx, a, m.set, cutoff, &st); err != nil {
			if ctx.Err() != nil {
				return st, fmt.Errorf("garbage collection: %w", err)
			}
			problems = append(problems, err)
			continue
		}
		st.Accounts++
	}
	if len(problems) > 0 {
		return st, fmt.Errorf("garbage collection: %w", errors.Join(problems...))
	}
	return st, nil
}

// Run collects at once and then every Interval until ctx ends. A failed
// pass is logged and retried at the next one, so Run returns only on
// shutdown (always nil).
func (c *Collector) Run(ctx context.Context) error {
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := c.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		attrs := []any{"marked", st.BlocksMarked, "swept", st.BlocksSwept, "bytesSwept", st.BytesSwept,
			"keptYoung", st.BlocksKept, "accounts", st.Accounts}
		if err != nil {
			c.logger().Warn("garbage collection pass", append(attrs, "err", err)...)
		} else {
			c.logger().Info("garbage collection pass", attrs...)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep deletes the blocks of one account that are neither marked nor
// younger than cutoff.
func (c *Collector) sweep(ctx context.Context, a account, marked digestSet, cutoff time.Time, st *Stats) error {
	var doomed []string
	err := a.store.ListBlocks(ctx, func(bi galleon.BlockInfo) error {
		switch {
		case marked.has(bi.Digest):
		case !bi.ModTime.Before(cutoff):
			st.BlocksKept++
		default:
			doomed = append(doomed, bi.Digest)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep storage account %s: %w", a.name, err)
	}
	deleted := 0
	for _, d := range doomed {
		// A writer may re-put the block to reference it at any moment: the
		// store deletes it only if it is still old, atomically with PutBlock.
		bi, err := a.store.StatBlock(ctx, d)
		if galleon.ErrorCode(err) == galleon.ENotFound {
			continue
		} else if err != nil {
			return fmt.Errorf("sweep storage account %s: %w", a.name, err)
		}
		gone, err := a.store.DeleteBlockIfOlder(ctx, d, cutoff)
		if err != nil {
			return fmt.Errorf("sweep storage account %s: %w", a.name, err)
		}
		if !gone {
			st.BlocksKept++
			continue
		}
		deleted++
		st.BlocksSwept++
		st.BytesSwept += bi.Size
	}
	c.logger().Debug("garbage collection swept a storage account", "account", a.name, "deleted", deleted)
	return nil
}
