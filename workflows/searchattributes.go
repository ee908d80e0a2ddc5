// Package workflows holds the deterministic orchestration of dr-syncer: no
// I/O, only activity calls, timers and child workflows.
package workflows

import "go.temporal.io/sdk/temporal"

// Search attributes every dr-syncer workflow sets, so the Web UI and
// `temporal workflow list --query` can filter on them.
var (
	AttrReplication   = temporal.NewSearchAttributeKeyKeyword("DrSyncerReplication")
	AttrSourceCluster = temporal.NewSearchAttributeKeyKeyword("DrSyncerSourceCluster")
	AttrNamespace     = temporal.NewSearchAttributeKeyKeyword("DrSyncerNamespace")
	AttrPVC           = temporal.NewSearchAttributeKeyKeyword("DrSyncerPVC")
)

// SearchAttributeTypes lists the search attributes to register with a
// Temporal namespace, by name and type.
func SearchAttributeTypes() map[string]string {
	return map[string]string{
		AttrReplication.GetName():   "Keyword",
		AttrSourceCluster.GetName(): "Keyword",
		AttrNamespace.GetName():     "Keyword",
		AttrPVC.GetName():           "Keyword",
	}
}
