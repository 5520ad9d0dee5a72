package manifest

import "github.com/galleonhq/galleon"

// Diff returns, in increasing order, the indexes of the blocks whose
// content differs between a and b: listed in one and absent (zero) from the
// other, or listed in both with different digests. A block past the end of
// one disk counts as absent there, so growing a disk with zeros changes
// nothing, while data written past the old end does.
//
// Indexes only line up between manifests of one block size. If a and b
// have different BlockSize values, Diff reports every block index of the
// larger of the two disks (in b's block size) as changed, the safe answer
// for delta statistics. Manifests with a block size of zero or less (not
// valid) have no blocks to compare, and Diff returns nil for them.
func Diff(a, b *galleon.DiskManifest) (changed []int64) {
	if a.BlockSize <= 0 || b.BlockSize <= 0 {
		return nil
	}
	if a.BlockSize != b.BlockSize {
		n := blockCount(max(a.Size, b.Size), b.BlockSize)
		changed = make([]int64, n)
		for i := range changed {
			changed[i] = int64(i)
		}
		return changed
	}
	x, y := a.Blocks, b.Blocks
	for len(x) > 0 || len(y) > 0 {
		switch {
		case len(y) == 0 || len(x) > 0 && x[0].Index < y[0].Index:
			changed = append(changed, x[0].Index)
			x = x[1:]
		case len(x) == 0 || y[0].Index < x[0].Index:
			changed = append(changed, y[0].Index)
			y = y[1:]
		default:
			if x[0].Digest != y[0].Digest {
				changed = append(changed, x[0].Index)
			}
			x, y = x[1:], y[1:]
		}
	}
	return changed
}
