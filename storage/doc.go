// Package storage maps a region's storage accounts to block stores. A
// replica of an image version lives on one storage account of the SKU it
// asks for (Standard_LRS, Standard_ZRS, Premium_LRS); replica n of a SKU in
// a region lives on account n, so replicas in a region are on distinct
// accounts. The embedded default keeps each account in a directory under the
// data directory; a Standard_ZRS account is one directory per availability
// zone behind blob/zrs.
//
// It imports the root package and the block-store backends.
package storage
