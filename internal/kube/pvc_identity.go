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
	// ClaimOriginal: in a reverse run (failback), the very claim the DR copy
	// was made from. It receives the DR copy's data in place and is never
	// marked as a copy.
	ClaimOriginal ClaimVerdict = "Original"
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

// CheckClaimReverse decides whether target, a claim in targetCluster, may
// receive the data of drCopy, a claim of drCluster, in a reverse run of
// replication. A failback writes into the source's own claims, which are
// not dr-syncer copies, so ownership cannot tell them apart from a user's
// claim; the DR copy's record of its source does. A non-copy target is
// ClaimOriginal only when the DR copy names it, by cluster, namespace, name
// and UID; a target that is a copy (made by an earlier reverse run, when
// the source claim was missing) is checked as CheckClaim checks any copy.
func CheckClaimReverse(target, drCopy *corev1.PersistentVolumeClaim, drCluster, targetCluster, replication string) (verdict ClaimVerdict, reason string) {
	d := drCopy.Annotations
	if owner := d[AnnotationReplication]; IsCopy(drCopy.Labels) && owner != "" && owner != replication {
		return ClaimForeign, fmt.Sprintf("the DR claim %s/%s is the copy of Replication %s, not of %s", drCopy.Namespace, drCopy.Name, owner, replication)
	}
	if IsCopy(target.Labels) {
		return CheckClaim(target, drCopy, drCluster, replication)
	}
	recorded := d[AnnotationSourceCluster] + "/" + d[AnnotationSourceNamespace] + "/" + d[AnnotationSourcePVC]
	switch {
	case !IsCopy(drCopy.Labels):
		return ClaimForeign, fmt.Sprintf("it was not created by dr-syncer, and the DR claim %s/%s is no dr-syncer copy, so nothing says it was made from it", drCopy.Namespace, drCopy.Name)
	case recorded != targetCluster+"/"+target.Namespace+"/"+target.Name:
		return ClaimForeign, fmt.Sprintf("it was not created by dr-syncer, and the DR copy %s/%s was made from %s, not from it", drCopy.Namespace, drCopy.Name, recorded)
	case d[AnnotationSourceUID] == "":
		return ClaimForeign, fmt.Sprintf("it was not created by dr-syncer, and the DR copy %s/%s does not record its source's UID, so nothing says it was made from this claim rather than one of the same name", drCopy.Namespace, drCopy.Name)
	case d[AnnotationSourceUID] != string(target.UID):
		return ClaimForeign, fmt.Sprintf("it was not created by dr-syncer and is not the claim the DR copy was made from (uid %s, the DR copy records uid %s): it was created again since", target.UID, d[AnnotationSourceUID])
	}
	return ClaimOriginal, ""
}

// MadeFrom reports whether claim is a copy of exactly drCopy (cluster
// drCluster): what a reverse run creates when the source's claim is missing.
func MadeFrom(claim, drCopy *corev1.PersistentVolumeClaim, drCluster string) bool {
	a := claim.Annotations
	return IsCopy(claim.Labels) && a[AnnotationSourceCluster] == drCluster && a[AnnotationSourceNamespace] == drCopy.Namespace &&
		a[AnnotationSourcePVC] == drCopy.Name && a[AnnotationSourceUID] == string(drCopy.UID)
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
