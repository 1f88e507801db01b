// Package store is syncgate's durable state in one Badger database: the sync
// table and its coalescing index, correlations with their reverse index,
// cursors, dead letters, tombstones, per-binding state, the connectors'
// key-value stores, create intents and the schema version.
//
// Every step that moves a change record changes all the keys it touches in
// one transaction, and a feed's cursor is written in the same transaction as
// the records it covers, so a crash loses nothing and duplicates nothing. The
// package knows nothing of connectors or policies.
package store
