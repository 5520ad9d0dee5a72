package manifest_test

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/manifest"
)

// The benchmarks run on one 256 MiB disk file whose 4 MiB blocks alternate
// random and zero, next to the system tools doing the nearest equivalent
// work on the same file, so that docs/benchmarks.md can quote ratios
// measured side by side in one run:
//
//	go test -run '^$' -bench 'Ingest|Baseline|Copy|Read' -benchtime 3x ./manifest/
//
// Every figure uses b.SetBytes(benchSize), the disk's logical size, so
// MB/s compare directly (the store holds half of it). The file is written
// once per benchmark and read from the page cache, as the baselines read
// it. Writes to the block store are durable (blob/localfs syncs every
// block); cp's are not, hence the cp+sync baseline.
const benchSize = 256 << 20

// benchFile writes the benchmark disk into a temporary directory.
func benchFile(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{7})
	block := make([]byte, galleon.DefaultBlockSize)
	for off := int64(0); off < benchSize; off += galleon.DefaultBlockSize {
		if (off/galleon.DefaultBlockSize)%2 == 0 {
			_, _ = rng.Read(block)
		} else {
			clear(block)
		}
		if _, err := f.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func openFile(b *testing.B, path string) *os.File {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

func newStore(b *testing.B, dir string) *localfs.Store {
	b.Helper()
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	s, err := localfs.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkIngest(b *testing.B) {
	path := benchFile(b)
	f := openFile(b, path)
	ctx := context.Background()
	for _, bc := range []struct {
		name      string
		workers   int
		present   bool  // the store already holds every block
		blockSize int64 // 0: the default, 4 MiB
	}{
		{"NewBlocks", 0, false, 0},
		{"NewBlocks/Workers1", 1, false, 0},
		{"NewBlocks/BlockSize1MiB", 0, false, 1 << 20},
		{"PresentBlocks", 0, true, 0},
		{"PresentBlocks/Workers1", 1, true, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "store")
			s := newStore(b, dir)
			opt := manifest.IngestOptions{Workers: bc.workers, BlockSize: bc.blockSize}
			wantBlocks := benchSize / galleon.DefaultBlockSize / 2
			if bc.blockSize != 0 {
				wantBlocks = int(benchSize / bc.blockSize / 2)
			}
			if bc.present {
				if _, err := manifest.Ingest(ctx, s, f, benchSize, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(benchSize)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if !bc.present {
					b.StopTimer()
					s = newStore(b, dir)
					b.StartTimer()
				}
				m, err := manifest.Ingest(ctx, s, f, benchSize, opt)
				if err != nil {
					b.Fatal(err)
				}
				if len(m.Blocks) != wantBlocks {
					b.Fatalf("%d blocks stored", len(m.Blocks))
				}
			}
		})
	}
}

// runTool runs a system tool, skipping the benchmark if it is missing.
func runTool(b *testing.B, name string, args ...string) {
	b.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func needTool(b *testing.B, name string) {
	b.Helper()
	if _, err := exec.LookPath(name); err != nil {
		b.Skipf("%s is not installed: %v", name, err)
	}
}

func BenchmarkSha256sumBaseline(b *testing.B) {
	needTool(b, "sha256sum")
	path := benchFile(b)
	b.SetBytes(benchSize)
	for range b.N {
		runTool(b, "sha256sum", path)
	}
}

func BenchmarkCpBaseline(b *testing.B) {
	needTool(b, "cp")
	path := benchFile(b)
	dst := filepath.Join(filepath.Dir(path), "copy.raw")
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.Remove(dst)
		b.StartTimer()
		runTool(b, "cp", path, dst)
	}
}

// BenchmarkCpSyncBaseline is cp followed by sync of the copy: a durable
// copy, as the block store's writes are.
func BenchmarkCpSyncBaseline(b *testing.B) {
	needTool(b, "cp")
	needTool(b, "sync")
	path := benchFile(b)
	dst := filepath.Join(filepath.Dir(path), "copy.raw")
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.Remove(dst)
		b.StartTimer()
		runTool(b, "cp", path, dst)
		runTool(b, "sync", dst)
	}
}

// copySource ingests the benchmark disk into a store of its own.
func copySource(b *testing.B) (*localfs.Store, *galleon.DiskManifest) {
	b.Helper()
	path := benchFile(b)
	src := newStore(b, filepath.Join(filepath.Dir(path), "src"))
	m, err := manifest.Ingest(context.Background(), src, openFile(b, path), benchSize, manifest.IngestOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return src, m
}

func BenchmarkCopy(b *testing.B) {
	src, m := copySource(b)
	ctx := context.Background()
	for _, workers := range []int{0, 1} {
		name := "Workers2"
		if workers == 1 {
			name = "Workers1"
		}
		b.Run(name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "dst")
			b.SetBytes(benchSize)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				dst := newStore(b, dir)
				b.StartTimer()
				stats, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if stats.BlocksCopied != int64(len(m.Blocks)) {
					b.Fatalf("copied %d blocks", stats.BlocksCopied)
				}
			}
		})
	}
}

// BenchmarkCopyCpBaseline copies the source store's directory tree with
// cp -r, the same bytes Copy moves (without verifying or syncing them).
func BenchmarkCopyCpBaseline(b *testing.B) {
	needTool(b, "cp")
	src, _ := copySource(b)
	dst := filepath.Join(b.TempDir(), "dst")
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
		runTool(b, "cp", "-r", src.Dir(), dst)
	}
}

func BenchmarkRead(b *testing.B) {
	src, m := copySource(b)
	ctx := context.Background()
	b.Run("WriteTo", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for range b.N {
			if n, err := manifest.NewReader(ctx, src, m).WriteTo(io.Discard); err != nil || n != benchSize {
				b.Fatalf("WriteTo = %d, %v", n, err)
			}
		}
	})
	b.Run("WriteToSha256", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for range b.N {
			h := sha256.New()
			if _, err := manifest.NewReader(ctx, src, m).WriteTo(h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadAt1MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		buf := make([]byte, 1<<20)
		for range b.N {
			r := manifest.NewReader(ctx, src, m)
			for off := int64(0); off < benchSize; off += int64(len(buf)) {
				if _, err := r.ReadAt(buf, off); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
