// Package blobtest is the contract suite that every galleon.BlockStore
// implementation must pass: a block store is done when its tests call Run
// and it passes.
//
//	func TestBlockStore(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blobtest.Subject {
//			s, err := localfs.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			clock := &fakeClock{now: t0} // safe for concurrent use
//			s.Now = clock.Now
//			return blobtest.Subject{Store: s, Advance: clock.Advance, Corrupt: ...}
//		})
//	}
//
// The opener returns a Subject rather than a bare store because the suite
// needs two things the BlockStore interface deliberately lacks: a way to let
// time pass (re-putting a block must refresh its ModTime, and the suite may
// not sleep) and a way to damage a stored block behind the store's back (to
// check that GetBlock notices). Both hooks are optional; the checks that
// need a missing hook are skipped with a message saying so, so a backend
// whose clock lives on a server (S3 stamps LastModified itself) can still
// run the rest.
//
// Run checks every method of galleon.BlockStore as blob.go documents it:
// round trips of empty, small and 4 MiB blocks; that PutBlock copies its
// input and GetBlock returns a fresh slice; EInvalid for content that does
// not match its digest and for malformed digests on every method (upper
// case, wrong length, non-hex, path tricks such as "../x"), with nothing
// stored; ENotFound (with a message and no Reason) for absent blocks;
// ModTime refresh on re-put; idempotent deletes; ListBlocks listing exactly
// what is stored with sizes and ModTimes, stopping at and returning the
// first error fn returns, and tolerating fn deleting the block it was given
// (as a garbage-collection sweep does); canceled contexts; concurrent puts
// of one block racing readers that must never see a partial block;
// concurrent puts of different blocks; and EInternal, naming the block, for
// corrupt content on GetBlock. Run it under -race.
//
// The suite pins down choices blob.go leaves open so that all backends
// behave alike: digests are exactly 64 lower-case hex characters and every
// method rejects anything else with EInvalid (before touching storage, so a
// digest can never address something outside the store); a canceled
// context makes PutBlock and ListBlocks fail with an error that wraps
// context.Canceled, and such a PutBlock stores nothing.
//
// Allowed imports: the standard library (including testing) and the root
// package galleon.
package blobtest
