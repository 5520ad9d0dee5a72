// Package blobapi serves the subset of the Azure Blob REST API that uploads
// and reads VHDs and disks, path-style (/{account}/{container}/{blob}, the
// blob name may contain '/'), authorized by SAS tokens Galleon signs
// itself. The azblob SDK (pageblob, blockblob and blob clients built from a
// SAS URL) and `az storage blob upload --blob-url <SAS> --type page` work
// against it.
//
// # Operations
//
//	PUT    (no comp)        Put Blob: an empty page blob (x-ms-blob-type: PageBlob,
//	                        x-ms-blob-content-length), or a block blob with its
//	                        content in the body (at most 256 MiB)
//	PUT    comp=page        Put Page: x-ms-page-write update|clear, range in
//	                        x-ms-range or Range, 512-aligned, at most 4 MiB per update
//	PUT    comp=block       Put Block (blockid=<base64>), at most 4000 MiB
//	PUT    comp=blocklist   Put Block List (<BlockList> of Latest/Committed/Uncommitted)
//	PUT    comp=properties  Set Blob Properties (x-ms-blob-content-length resizes a
//	                        page blob; x-ms-blob-content-type, when sent, sets the type)
//	PUT    comp=metadata    Set Blob Metadata (x-ms-meta-*)
//	GET    (no comp)        Get Blob, with Range or x-ms-range (206 + Content-Range)
//	HEAD   (no comp)        Get Blob Properties
//	GET    comp=pagelist    Get Page Ranges (non-zero ranges, at block granularity)
//	GET    comp=blocklist   Get Block List (blocklisttype committed|uncommitted|all)
//	GET    comp=metadata    Get Blob Metadata
//	DELETE (no comp)        Delete Blob (with its staged blocks)
//
// Every answer carries x-ms-request-id, x-ms-version (2021-08-06) and Date;
// errors are Azure's XML <Error><Code/><Message/></Error> with the
// x-ms-error-code header. If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since are honoured; leases and snapshots are not supported
// (a request carrying x-ms-lease-id fails with LeaseNotPresentWithBlobOperation),
// and a page blob's sequence number is always 0.
//
// # SAS tokens
//
// A request is authorized by the query parameters sv (version), sr (b for a
// blob, c for every blob of a container), sp (permissions, a subset of
// "racwd"), st (start, optional), se (expiry) and sig. st and se are
// RFC 3339 times ("2030-01-02T15:04:05Z") or dates ("2030-01-02"). sig is
// the standard base64 of HMAC-SHA256(Server.Key, string-to-sign), where
// the string-to-sign is these six lines joined by "\n" (no trailing
// newline), each the parameter's value exactly as sent ("" when absent):
//
//	sp
//	st
//	se
//	/blob/{account}/{container}[/{blob}]   account and container in lower case;
//	                                        the blob name (decoded, case kept) only when sr=b
//	sv
//	sr
//
// Checks run in this order and the first failure answers: no SAS at all
// (401 NoAuthenticationInformation); a missing or malformed parameter, a
// signature that does not match (compared in constant time), a start in the
// future or an expiry in the past (403 AuthenticationFailed, naming the
// check); a permission the operation needs but sp lacks (403
// AuthorizationPermissionMismatch). Reads need r; writes need w, or c when
// they create a blob that does not exist yet (Put Blob, Put Block, Put Block
// List); Delete Blob needs d. Server.SignURL issues blob SAS URLs.
//
// # Content
//
// A blob's content is a map of fixed-size blocks (Blob.BlockSize, default
// galleon.DefaultBlockSize), each stored once by SHA-256 in the block store
// of the blob's region; all-zero blocks are not stored and read as zeros.
// Block i covers bytes [i*BlockSize, (i+1)*BlockSize); the last block is
// stored cut at the blob's size rounded up to 512 bytes (as a manifest
// stores it), except for the moment a resize is in progress, when it may be
// stored at full BlockSize with zeros past the size: readers accept both,
// so every state a resize passes through, or a crash leaves, is readable.
// Block blobs whose size is not a multiple of 512 bytes are stored padded
// with zeros to the next multiple (their manifest is that padded content).
//
// Put Page patches the blocks a write touches: a block the write covers
// whole is hashed and stored without reading anything; a block it covers in
// part is read (or taken as zeros), patched, and stored again; an all-zero
// result is removed from the map. All changed blocks of one call are
// recorded with one SetBlobBlocks, so a write is all or nothing.
//
// Put Block stores its body as pieces of galleon.DefaultBlockSize in the
// block store and records the staged block in the SQL store, so an
// acknowledged Put Block survives a restart. Put Block List streams the
// listed blocks (uncommitted pieces, or ranges of the blob's committed
// content for Committed entries) into fresh fixed-size blocks and commits
// blob, block map and committed block list in one transaction
// (StagedBlobStore.CommitBlockBlob). Abandoned uncommitted blocks are not
// expired (Azure drops them after a week).
//
// # Concurrency
//
// Writes to one blob are serialized by a per-blob lock inside the process;
// the hashing and storing of the whole blocks a Put Page covers happens
// before the lock, so parallel uploads of different ranges overlap. Reads
// take a consistent snapshot (blob row and block map with the same ETag,
// retried when a write lands in between) and never wait for the lock.
// Across processes (several servers on one database) there is no lock: each
// write is still atomic, but two processes that patch the same block at the
// same moment (partial-block Put Page, resize) can lose one of the two
// patches. Uploads to one blob should therefore go through one server, as
// they do when one client uploads to one URL.
//
// New blobs (a Put Blob, Put Block or Put Block List for a blob that does
// not exist) are created in Server.DefaultRegion; when it is empty only
// blobs the platform created beforehand (a disk's upload URL) accept writes.
//
// Allowed imports: the standard library, the root package galleon and
// galleon/manifest (reading content through manifests).
package blobapi
