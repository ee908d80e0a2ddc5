package v1alpha1

// DeletionGuard is the mass-deletion breaker. A run that would delete more
// of the objects this Replication owns in DR than the larger of MaxPercent
// of them and MaxObjects deletes none of them and reports Synced=False with
// reason DeletionGuard, until a person sets the accept-changes annotation.
// DR volumes (PVCs and PVs) are never deleted by a run, whatever this says.
type DeletionGuard struct {
	// MaxPercent of the objects this Replication owns in DR one run may delete.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=50
	// +optional
	MaxPercent *int32 `json:"maxPercent,omitempty"`
	// MaxObjects one run may always delete, whatever their share.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=10
	// +optional
	MaxObjects *int32 `json:"maxObjects,omitempty"`
}

// SelfReplicationProblem says why a Replication whose source and destination
// are the same cluster and namespace cannot run: its copy would be the
// source itself, and pruning or rsync --delete would act on prod. "" when fine.
func SelfReplicationProblem(sourceCluster, destinationCluster string, spec *ReplicationSpec) string {
	dst := spec.DestinationNamespace
	if dst == "" {
		dst = spec.SourceNamespace
	}
	if sourceCluster != destinationCluster || spec.SourceNamespace != dst {
		return ""
	}
	return "source and destination are both namespace " + dst + " of cluster " + sourceCluster +
		": a DR copy cannot be its own source; set destinationNamespace or another destination cluster"
}
