package localfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// TempMaxAge is how old a temporary file must be before ListBlocks removes
// it as the leftover of a crashed or failed write. No write takes that
// long, so a younger temporary file may belong to a write in progress.
const TempMaxAge = time.Hour

// tempPrefix starts the name of every temporary file. Digests are hex, so
// no block's name can start with it.
const tempPrefix = ".tmp-"

// Store is a galleon.BlockStore on a local directory. Its methods are safe
// for concurrent use, also by several processes sharing the directory.
type Store struct {
	// Now stamps the ModTime of blocks as they are put or re-put. Open sets
	// it to time.Now; tests replace it before first use.
	Now func() time.Time

	dir string
}

var _ galleon.BlockStore = (*Store)(nil)

// Open returns a Store keeping its blocks under dir, creating dir if it
// does not exist.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, galleon.Errorf(galleon.EInvalid, "the block store directory is empty; configure the directory to keep disk blocks in").WithTarget("dir")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	} else if !fi.IsDir() {
		return nil, galleon.Errorf(galleon.EInvalid, "block store path %s is not a directory; point it at a directory", dir).WithTarget("dir")
	}
	return &Store{Now: time.Now, dir: dir}, nil
}

// Dir returns the directory the store keeps its blocks under.
func (s *Store) Dir() string { return s.dir }

// PutBlock stores data under digest, or, if the block is already present
// with the right size, only sets its modification time to s.Now(). A new
// block is written to a temporary file in its final directory, synced,
// stamped and renamed into place, and the directory is synced, so a crash
// leaves either no block or the whole block under its name.
//
// Re-putting does not re-read a present block: one corrupted in place
// without a change of size stays corrupt (GetBlock reports it), while a
// truncated or extended one is rewritten.
func (s *Store) PutBlock(ctx context.Context, digest string, data []byte) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put block %s: %w", digest, err)
	}
	if got := digestOf(data); got != digest {
		return galleon.Errorf(galleon.EInvalid, "block content has SHA-256 %s, not %s as sent; the block was damaged or cut short on its way, so send it again", got, digest).WithTarget("digest")
	}
	now := s.Now()
	path := s.path(digest)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
		err := os.Chtimes(path, time.Time{}, now)
		if err == nil {
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("put block %s: refresh: %w", digest, err)
		}
		// Deleted since the Stat: write it again.
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("put block %s: %w", digest, err)
	}
	if err := s.write(digest, data, now); err != nil {
		return fmt.Errorf("put block %s: %w", digest, err)
	}
	return nil
}

// write stores data as the block digest, stamped now, atomically and
// durably.
func (s *Store) write(digest string, data []byte, now time.Time) (err error) {
	dir := filepath.Dir(s.path(digest))
	if err := s.mkdirs(digest); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPrefix+digest+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, time.Time{}, now); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path(digest)); err != nil {
		return err
	}
	return syncDir(dir)
}

// mkdirs creates the two fan-out directories of digest if they are
// missing, syncing the parent of each one created so that a block synced
// into it later survives a crash.
func (s *Store) mkdirs(digest string) error {
	parent := s.dir
	for _, name := range []string{digest[:2], digest[2:4]} {
		dir := filepath.Join(parent, name)
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			if err := syncDir(parent); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return err
		}
		parent = dir
	}
	return nil
}

// GetBlock returns the content of block digest after checking its SHA-256.
// Returns ENotFound if the block is absent, and EInternal naming the block
// and its file if the content does not match the digest.
func (s *Store) GetBlock(ctx context.Context, digest string) ([]byte, error) {
	if err := checkDigest(digest); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get block %s: %w", digest, err)
	}
	path := s.path(digest)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(digest)
	} else if err != nil {
		return nil, fmt.Errorf("get block %s: %w", digest, err)
	}
	if got := digestOf(data); got != digest {
		return nil, galleon.Errorf(galleon.EInternal, "block %s is corrupt: file %s holds %d bytes with SHA-256 %s; delete the file and copy the block from a replica", digest, path, len(data), got)
	}
	return data, nil
}

// StatBlock returns the size and modification time of block digest without
// reading it. Returns ENotFound if the block is absent.
func (s *Store) StatBlock(ctx context.Context, digest string) (galleon.BlockInfo, error) {
	if err := checkDigest(digest); err != nil {
		return galleon.BlockInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return galleon.BlockInfo{}, fmt.Errorf("stat block %s: %w", digest, err)
	}
	fi, err := os.Stat(s.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return galleon.BlockInfo{}, notFound(digest)
	} else if err != nil {
		return galleon.BlockInfo{}, fmt.Errorf("stat block %s: %w", digest, err)
	}
	return info(digest, fi), nil
}

// DeleteBlock removes block digest; removing an absent block is not an
// error. The fan-out directories stay, as a concurrent put may be about to
// write into them.
func (s *Store) DeleteBlock(ctx context.Context, digest string) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete block %s: %w", digest, err)
	}
	if err := os.Remove(s.path(digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete block %s: %w", digest, err)
	}
	return nil
}

// asideSuffix marks a block DeleteBlockIfOlder has moved aside to look at
// it; ListBlocks puts back any a crash left behind.
const asideSuffix = ".aside"

// DeleteBlockIfOlder removes a block whose modification time is before
// before. The block is first renamed aside, so a concurrent PutBlock either
// touched it before (its new time is seen and it is put back), or finds it
// absent and writes a fresh copy (which the put-back does not overwrite).
func (s *Store) DeleteBlockIfOlder(ctx context.Context, digest string, before time.Time) (bool, error) {
	if err := checkDigest(digest); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("delete block %s: %w", digest, err)
	}
	path := s.path(digest)
	aside := path + asideSuffix
	if err := os.Rename(path, aside); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("delete block %s: %w", digest, err)
	}
	fi, err := os.Stat(aside)
	if err == nil && fi.ModTime().Before(before) {
		if err := os.Remove(aside); err != nil {
			return false, fmt.Errorf("delete block %s: %w", digest, err)
		}
		return true, nil
	}
	return false, putBack(path, aside)
}

// putBack restores a block moved aside, unless a fresh copy was written
// meanwhile (Link refuses to replace it; the aside copy then just goes).
func putBack(path, aside string) error {
	if err := os.Link(aside, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("put block %s back: %w", filepath.Base(path), err)
	}
	if err := os.Remove(aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("put block %s back: %w", filepath.Base(path), err)
	}
	return nil
}

// ListBlocks calls fn for every block in the directory tree, in digest
// order, stopping at the first error fn returns and returning it. fn may
// delete the block it is given.
//
// Only files named by their digest in the directories that digest maps to
// count as blocks; other files are ignored. Temporary files older than
// TempMaxAge, by the wall clock (their time was set by the filesystem, not
// by s.Now), are removed as the leftovers of writes that crashed.
func (s *Store) ListBlocks(ctx context.Context, fn func(galleon.BlockInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list blocks: %w", err)
	}
	tops, err := readDirs(s.dir)
	if err != nil {
		return fmt.Errorf("list blocks: %w", err)
	}
	for _, top := range tops {
		subs, err := readDirs(filepath.Join(s.dir, top))
		if err != nil {
			return fmt.Errorf("list blocks: %w", err)
		}
		for _, sub := range subs {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("list blocks: %w", err)
			}
			if err := s.listLeaf(top+sub, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// listLeaf calls fn for the blocks in the leaf directory for digests
// starting with prefix, and removes old temporary files there.
func (s *Store) listLeaf(prefix string, fn func(galleon.BlockInfo) error) error {
	dir := filepath.Join(s.dir, prefix[:2], prefix[2:])
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("list blocks: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if d, ok := strings.CutSuffix(name, asideSuffix); ok && checkDigest(d) == nil {
			// A sweep crashed between moving the block aside and deciding.
			if err := putBack(filepath.Join(dir, d), filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("list blocks: %w", err)
			}
			continue // listed under its own name, if ReadDir saw it, or next time
		}
		if strings.HasPrefix(name, tempPrefix) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > TempMaxAge {
				if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("list blocks: remove stale temporary file: %w", err)
				}
			}
			continue
		}
		if checkDigest(name) != nil || !strings.HasPrefix(name, prefix) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		} else if err != nil {
			return fmt.Errorf("list blocks: %w", err)
		}
		if err := fn(info(name, fi)); err != nil {
			return err
		}
	}
	return nil
}

// readDirs returns the names of the fan-out directories in dir: two
// lower-case hex digits each.
func readDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.IsDir() && len(n) == 2 && isHex(n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// path returns the file of block digest: dir/ab/cd/abcd....
func (s *Store) path(digest string) string {
	return filepath.Join(s.dir, digest[:2], digest[2:4], digest)
}

// checkDigest returns EInvalid unless digest is 64 lower-case hex digits.
// Every method calls it before touching the filesystem, so a digest can
// never name a path outside the store.
func checkDigest(digest string) error {
	if len(digest) != sha256.Size*2 || !isHex(digest) {
		return galleon.Errorf(galleon.EInvalid, "block digest %q is not a SHA-256 digest; give it as 64 lower-case hexadecimal digits", digest).WithTarget("digest")
	}
	return nil
}

// isHex reports whether s is made of lower-case hex digits only.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// digestOf returns the lower-case hex SHA-256 of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func notFound(digest string) error {
	return galleon.Errorf(galleon.ENotFound, "block %s is not in this block store", digest)
}

func info(digest string, fi fs.FileInfo) galleon.BlockInfo {
	return galleon.BlockInfo{Digest: digest, Size: fi.Size(), ModTime: fi.ModTime().UTC()}
}

// syncDir flushes dir's entries (a rename or a new subdirectory) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
