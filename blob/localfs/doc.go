// Package localfs is a galleon.BlockStore on a local directory: the backend
// of storage accounts kept on the server's own disks (the embedded default
// puts them under the data directory).
//
// Layout: block <digest> (64 lower-case hex digits) lives in the file
// <dir>/<digest[0:2]>/<digest[2:4]>/<digest>, so no directory holds more
// than 256 subdirectories or more than 1/65536 of the blocks. The fan-out
// directories are created on first use and never removed.
//
// Writes are crash-safe: PutBlock writes to a temporary file named
// ".tmp-<digest>-<random>" in the block's own directory, syncs it, sets
// its modification time, renames it over the final name and syncs the
// directory (and any fan-out directory it had to create), so a block is
// never visible in part and is durable once PutBlock returns. Re-putting a
// present block of the right size only sets its modification time
// (os.Chtimes), which is the ModTime garbage collection compares against;
// Store.Now supplies that time so tests can control it.
//
// GetBlock reads the whole file and checks its SHA-256 on every read.
// ListBlocks walks the three levels, reporting only files named by their
// digest in the directory that digest maps to, and ignoring everything
// else. Temporary files are invisible to every method; ListBlocks (the
// garbage collector's sweep calls it) removes those older than TempMaxAge
// (one hour, judged by the wall clock against the time the filesystem gave
// them), which are what a crash in the middle of a write leaves behind.
//
// Several Store values, or processes, may share a directory.
//
// Allowed imports: the standard library and the root package galleon.
package localfs
