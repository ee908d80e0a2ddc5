package kube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// ClaimVerdict is what an existing DR claim is to the sync about to write it.
type ClaimVerdict string

// Claim verdicts, from the harmless.
const (
	// ClaimOwned: this replication's copy of this very source claim.
	ClaimOwned ClaimVerdict = "Owned"
	// ClaimUnrecorded: this replication's copy, made before the source's
	// identity was recorded; the sync records it.
	ClaimUnrecorded ClaimVerdict = "Unrecorded"
	// ClaimReplaced: this replication's copy of a source claim of the same
	// name that is gone; the source now is another claim.
	ClaimReplaced ClaimVerdict = "Replaced"
	// ClaimForeign: not a copy this replication made of this source; never
	// written, never mounted.
	ClaimForeign ClaimVerdict = "Foreign"
)

// CheckClaim decides whether the DR claim existing may receive source's
// data for replication ("<namespace>/<name>"). reason explains Foreign and
// Replaced to a user.
func CheckClaim(existing, source *corev1.PersistentVolumeClaim, sourceCluster, replication string) (verdict ClaimVerdict, reason string) {
	a := existing.Annotations
	if !IsCopy(existing.Labels) {
		return ClaimForeign, "it was not created by dr-syncer"
	}
	owner := a[AnnotationReplication]
	sameSource := a[AnnotationSourceCluster] == sourceCluster && a[AnnotationSourceNamespace] == source.Namespace && a[AnnotationSourcePVC] == source.Name
	switch {
	case owner != "" && owner != replication:
		return ClaimForeign, "it belongs to Replication " + owner
	case owner == "" && !sameSource:
		// Made by a sync of another source, before copies named their Replication.
		return ClaimForeign, fmt.Sprintf("it is the copy of %s/%s/%s", a[AnnotationSourceCluster], a[AnnotationSourceNamespace], a[AnnotationSourcePVC])
	}
	uid := a[AnnotationSourceUID]
	switch {
	case uid == "":
		return ClaimUnrecorded, ""
	case uid != string(source.UID):
		return ClaimReplaced, fmt.Sprintf("the source PVC was re-created (uid %s, the DR copy was made from uid %s)", source.UID, uid)
	}
	return ClaimOwned, ""
}

// SharedBacking says whether two volumes are the same storage, seen from two
// clusters: the same NFS export or the same CSI volume of one driver. Syncing
// such a pair would copy a volume onto itself, with --delete.
func SharedBacking(source, dr *corev1.PersistentVolume) (string, bool) {
	s, d := source.Spec.PersistentVolumeSource, dr.Spec.PersistentVolumeSource
	switch {
	case s.NFS != nil && d.NFS != nil && s.NFS.Server == d.NFS.Server && s.NFS.Path == d.NFS.Path:
		return fmt.Sprintf("NFS export %s:%s", s.NFS.Server, s.NFS.Path), true
	case s.CSI != nil && d.CSI != nil && s.CSI.Driver == d.CSI.Driver && s.CSI.VolumeHandle == d.CSI.VolumeHandle:
		return fmt.Sprintf("CSI volume %s of driver %s", s.CSI.VolumeHandle, s.CSI.Driver), true
	}
	return "", false
}
