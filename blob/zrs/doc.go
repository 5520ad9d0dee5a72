// Package zrs is a zone-redundant galleon.BlockStore: every block is written
// to one backend per availability zone and read from any zone that has an
// intact copy, repairing the others on the way. It is what a Standard_ZRS
// storage account is made of (REQUIREMENTS R4): losing one zone's backend
// loses no data.
//
// It imports only the root package.
package zrs
