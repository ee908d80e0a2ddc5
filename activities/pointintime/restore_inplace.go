package pointintime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A replace in place is the one step of dr-syncer that deletes a DR copy's
// claim. It runs only on a person's recorded decision (a failover asked to
// start from restore points), and even then the live copy's data is never
// lost: before the claim goes, its volume is set to Retain, labelled with
// the failover and given a record of the claim. A retry that finds the
// claim gone makes it again from that record, and a person finds the old
// data by the label. No step deletes a volume.

// usersListEvery is how many polls of a claim being deleted pass between
// two lists of the pods that keep it: a namespace's pods are many.
const usersListEvery = 10

// ReplaceFromRestorePoint makes the DR PVC in.DR again under the same name,
// from the restore point in.Point, with the old claim's spec, labels and
// annotations, so it stays this Replication's copy. The old claim's volume
// is kept and labelled kube.LabelReplacedBy. Each step is re-entrant: a
// retry finds the claim as it was, gone (made again from the volume's
// record) or already replaced (only waited for).
func (a *SnapshotActivities) ReplaceFromRestorePoint(ctx context.Context, in contract.ReplaceFromPointInput) (contract.ReplaceFromPointResult, error) {
	cs, err := a.Clusters.Clientset(ctx, in.DR.Cluster.Namespace, in.DR.Cluster.Name)
	if err != nil {
		return contract.ReplaceFromPointResult{}, activities.Classify(err)
	}
	result := contract.ReplaceFromPointResult{PVC: in.DR.String(), Point: in.Point.Name}
	live, err := cs.CoreV1().PersistentVolumeClaims(in.DR.Namespace).Get(ctx, in.DR.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil // the client returns an empty claim with the error
	case err != nil:
		return result, fmt.Errorf("get DR PVC %s: %w", in.DR, err)
	}
	retained, err := retainedVolume(ctx, cs, in)
	if err != nil {
		return result, err
	}
	if retained != nil {
		result.RetainedVolume = retained.Name
	}
	if live != nil && live.Annotations[kube.AnnotationRestoredBy] == in.Op.WorkflowID {
		// An earlier attempt made the new claim: only its binding is left.
		if from := live.Annotations[kube.AnnotationRestoredFrom]; from != restoredFrom(in) {
			return result, activities.NonRetryable(contract.ErrTypeClaimNotReplaceable,
				"DR PVC %s was already replaced by this failover from %s, not from %s: it is not replaced twice", in.DR, from, restoredFrom(in))
		}
		_, err := waitClaimBound(ctx, cs, live, in.DR.Cluster.Name)
		return result, err
	}
	// Nothing is written until the restore point is known to be usable.
	minSize, err := a.checkReplacementPoint(ctx, in)
	if err != nil {
		return result, err
	}
	var old *corev1.PersistentVolumeClaim
	if live == nil {
		// An earlier attempt deleted the claim: its volume holds the record.
		if retained == nil {
			return result, activities.NonRetryable(contract.ErrTypePVCNotFound,
				"DR PVC %s does not exist and no volume labelled %s=%s records it: nothing to replace",
				in.DR, kube.LabelReplacedBy, kube.OperationID(in.Op.WorkflowID))
		}
		if old, err = claimFromRecord(retained); err != nil {
			return result, err
		}
	} else {
		pv, err := retainLiveVolume(ctx, cs, live, retained, in)
		if err != nil {
			return result, err
		}
		result.RetainedVolume = pv.Name
		old = claimRecord(live)
		if err := deleteClaimAndWait(ctx, cs, live, in.DR, pv.Name); err != nil {
			return result, err
		}
	}
	claim, err := createReplacement(ctx, cs, old, in, minSize, result.RetainedVolume)
	if err != nil {
		return result, err
	}
	_, err = waitClaimBound(ctx, cs, claim, in.DR.Cluster.Name)
	return result, err
}

// restoredFrom names the restore point as kube.AnnotationRestoredFrom does.
func restoredFrom(in contract.ReplaceFromPointInput) string {
	return fmt.Sprintf("%s/%s/%s", in.DR.Cluster.Name, in.DR.Namespace, in.Point.Name)
}

// checkReplacementPoint makes sure in.Point is a complete restore point of
// this very DR PVC of this Replication, so the claim is never deleted for
// a point that cannot replace it. It returns the least size a claim made
// from it needs.
func (a *SnapshotActivities) checkReplacementPoint(ctx context.Context, in contract.ReplaceFromPointInput) (string, error) {
	snaps, err := a.snapshots(ctx, in.DR.Cluster)
	if err != nil {
		return "", err
	}
	s, err := snaps.SnapshotV1().VolumeSnapshots(in.DR.Namespace).Get(ctx, in.Point.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", activities.NonRetryable(contract.ErrTypeRestorePointNotFound,
			"restore point %s/%s of DR PVC %s not found; the DR PVC is left as it is", in.DR.Namespace, in.Point.Name, in.DR)
	}
	if err != nil {
		return "", fmt.Errorf("get restore point %s/%s in %s: %w", in.DR.Namespace, in.Point.Name, in.DR.Cluster.Name, err)
	}
	problem := ""
	switch {
	case s.Labels[kube.LabelRestorePointOf] != kube.OperationID(in.Replication) || s.Annotations[kube.AnnotationReplication] != in.Replication:
		problem = "it is no restore point of Replication " + in.Replication
	case s.Spec.Source.PersistentVolumeClaimName == nil || *s.Spec.Source.PersistentVolumeClaimName != in.DR.Name:
		problem = "it is a snapshot of another PVC"
	case s.Labels[kube.LabelOperation] != "":
		problem = "it is still being taken"
	case s.DeletionTimestamp != nil:
		problem = "it is being deleted"
	case !kube.SnapshotReady(s):
		problem = "it is not ready to use"
	}
	if problem != "" {
		return "", activities.NonRetryable(contract.ErrTypeRestorePointUnusable,
			"restore point %s/%s cannot replace DR PVC %s: %s; the DR PVC is left as it is", in.DR.Namespace, in.Point.Name, in.DR, problem)
	}
	if size := kube.SnapshotRestoreSize(s); size != "" {
		return size, nil
	}
	return in.Point.Size, nil
}

// retainedVolume finds the volume an earlier attempt of this failover kept
// for the DR PVC, nil if none.
func retainedVolume(ctx context.Context, cs kubernetes.Interface, in contract.ReplaceFromPointInput) (*corev1.PersistentVolume, error) {
	selector := kube.LabelReplacedBy + "=" + kube.OperationID(in.Op.WorkflowID)
	list, err := cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list volumes labelled %s in %s: %w", selector, in.DR.Cluster.Name, err)
	}
	// One failover replaces many claims: the annotation says whose it is.
	var found []*corev1.PersistentVolume
	for i := range list.Items {
		if list.Items[i].Annotations[kube.AnnotationReplacedClaim] == in.DR.Namespace+"/"+in.DR.Name {
			found = append(found, &list.Items[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, pv := range found {
		names[i] = pv.Name
	}
	return nil, activities.NonRetryable(contract.ErrTypeClaimNotReplaceable,
		"volumes %s are all labelled as the kept data of DR PVC %s: a person must say which is its copy", strings.Join(names, ", "), in.DR)
}

// retainLiveVolume sets the live claim's volume to Retain and marks it, so
// deleting the claim keeps the data and a person (or a retry) finds it. A
// claim bound to no volume is refused: there would be nothing to keep.
func retainLiveVolume(ctx context.Context, cs kubernetes.Interface, live *corev1.PersistentVolumeClaim,
	retained *corev1.PersistentVolume, in contract.ReplaceFromPointInput) (*corev1.PersistentVolume, error) {
	if retained != nil && (retained.Spec.ClaimRef == nil || retained.Spec.ClaimRef.UID != live.UID) {
		// This failover deleted the claim and another has taken its name.
		return nil, activities.NonRetryable(contract.ErrTypeConflict,
			"PVC %s was made again by someone else after this failover deleted it; the replaced copy's data is on volume %s",
			in.DR, retained.Name)
	}
	if !kube.IsCopy(live.Labels) || live.Annotations[kube.AnnotationReplication] != in.Replication {
		return nil, activities.NonRetryable(contract.ErrTypeConflict,
			"PVC %s is not Replication %s's DR copy: a failover replaces only its own copies", in.DR, in.Replication)
	}
	if live.Spec.VolumeName == "" || live.Status.Phase != corev1.ClaimBound {
		return nil, activities.NonRetryable(contract.ErrTypeClaimNotReplaceable,
			"DR PVC %s is %s and bound to no volume: a replace keeps the live copy's volume, and there is none; "+
				"fail over without --from-restore-points, or restore the point under another name (drsyncer restore)",
			in.DR, live.Status.Phase)
	}
	volumes := cs.CoreV1().PersistentVolumes()
	pv, err := volumes.Get(ctx, live.Spec.VolumeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, activities.NonRetryable(contract.ErrTypeClaimNotReplaceable,
			"volume %s of DR PVC %s does not exist, so its data could not be kept; the DR PVC is left as it is", live.Spec.VolumeName, in.DR)
	}
	if err != nil {
		return nil, fmt.Errorf("get volume %s of DR PVC %s: %w", live.Spec.VolumeName, in.DR, err)
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != live.UID {
		return nil, activities.NonRetryable(contract.ErrTypeClaimNotReplaceable,
			"volume %s is not bound to DR PVC %s, which names it; the DR PVC is left as it is", pv.Name, in.DR)
	}
	record, err := json.Marshal(claimRecord(live))
	if err != nil {
		return nil, fmt.Errorf("record DR PVC %s: %w", in.DR, err)
	}
	annotations := map[string]string{
		kube.AnnotationReplacedClaim:       in.DR.Namespace + "/" + in.DR.Name,
		kube.AnnotationReplacedFrom:        restoredFrom(in),
		kube.AnnotationReplacedClaimRecord: string(record),
	}
	if _, ok := pv.Annotations[kube.AnnotationReplacedReclaimPolicy]; !ok {
		// Only the first attempt sees the policy the volume had.
		annotations[kube.AnnotationReplacedReclaimPolicy] = string(pv.Spec.PersistentVolumeReclaimPolicy)
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"labels":      map[string]string{kube.LabelReplacedBy: kube.OperationID(in.Op.WorkflowID)},
			"annotations": annotations,
		},
		"spec": map[string]any{"persistentVolumeReclaimPolicy": corev1.PersistentVolumeReclaimRetain},
	})
	if err != nil {
		return nil, fmt.Errorf("retain volume %s: %w", pv.Name, err)
	}
	activity.RecordHeartbeat(ctx, fmt.Sprintf("keeping volume %s of DR PVC %s (reclaim policy Retain)", pv.Name, in.DR))
	if pv, err = volumes.Patch(ctx, pv.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return nil, fmt.Errorf("retain volume %s of DR PVC %s: %w", live.Spec.VolumeName, in.DR, err)
	}
	return pv, nil
}

// bindingAnnotations are set by the control plane about one claim's
// binding. On the new claim they would claim a volume it does not have
// (pv.kubernetes.io/bind-completed makes the PV controller think it bound).
var bindingAnnotations = []string{"pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/", "kubectl.kubernetes.io/"}

// claimRecord is what the new claim takes from the old: its name, labels,
// annotations but the binding's, and spec. Owner references are left out:
// a StatefulSet sets its own again, and an owner pod that is gone would
// have the new claim collected.
func claimRecord(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	annotations := map[string]string{}
	for k, v := range pvc.Annotations {
		binding := false
		for _, prefix := range bindingAnnotations {
			binding = binding || strings.HasPrefix(k, prefix)
		}
		if !binding {
			annotations[k] = v
		}
	}
	record := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: pvc.Name, Namespace: pvc.Namespace, Labels: pvc.Labels, Annotations: annotations},
		Spec:       *pvc.Spec.DeepCopy(),
	}
	record.Spec.VolumeName = ""
	return record
}

// claimFromRecord reads back the claim retainLiveVolume recorded on pv.
func claimFromRecord(pv *corev1.PersistentVolume) (*corev1.PersistentVolumeClaim, error) {
	var claim corev1.PersistentVolumeClaim
	if err := json.Unmarshal([]byte(pv.Annotations[kube.AnnotationReplacedClaimRecord]), &claim); err != nil || claim.Name == "" {
		return nil, activities.NonRetryable(contract.ErrTypeClaimNotReplaceable,
			"volume %s keeps the data of DR PVC %s, which is gone, but its annotation %s holds no claim to make again: "+
				"a person must make the claim (bind it to the volume, or restore the point)",
			pv.Name, pv.Annotations[kube.AnnotationReplacedClaim], kube.AnnotationReplacedClaimRecord)
	}
	return &claim, nil
}

// deleteClaimAndWait deletes the live claim (that very one: a precondition
// on its UID) and waits until it is gone. A pod using it keeps it
// (kubernetes.io/pvc-protection): the heartbeat and the error name them.
func deleteClaimAndWait(ctx context.Context, cs kubernetes.Interface, live *corev1.PersistentVolumeClaim, ref contract.PVCRef, volume string) error {
	claims := cs.CoreV1().PersistentVolumeClaims(ref.Namespace)
	activity.RecordHeartbeat(ctx, fmt.Sprintf("deleting DR PVC %s (its volume %s is kept)", ref, volume))
	uid := live.UID
	err := claims.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		// A conflict is a claim changed under us: the retry reads it again.
		return fmt.Errorf("delete DR PVC %s: %w", ref, err)
	}
	why := ""
	for i := 0; ; i++ {
		got, err := claims.Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get DR PVC %s: %w", ref, err)
		}
		if got.UID != uid {
			return activities.NonRetryable(contract.ErrTypeConflict,
				"PVC %s was made again by someone else while this failover deleted it; the replaced copy's data is on volume %s", ref, volume)
		}
		if i%usersListEvery == 0 {
			why = holdUp(ctx, cs, got)
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("waiting for DR PVC %s to be deleted%s", ref, why))
		if err := activities.Sleep(ctx); err != nil {
			return fmt.Errorf("DR PVC %s is not deleted%s; its data is kept on volume %s: %w", ref, why, volume, err)
		}
	}
}

// holdUp says what keeps a deleted claim: the pods using it, else its
// finalizers.
func holdUp(ctx context.Context, cs kubernetes.Interface, claim *corev1.PersistentVolumeClaim) string {
	pods, err := cs.CoreV1().Pods(claim.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Sprintf(" (its pods could not be listed: %v)", err)
	}
	var users []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if kube.PodMountsClaim(p, claim.Name) && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			users = append(users, p.Name)
		}
	}
	switch {
	case len(users) > 0:
		return ": pods " + strings.Join(users, ", ") + " use it (kubernetes.io/pvc-protection keeps it until they stop)"
	case len(claim.Finalizers) > 0:
		return ": finalizers " + strings.Join(claim.Finalizers, ", ") + " keep it"
	}
	return ""
}

// createReplacement makes the claim again from old, restored from the
// point: old's labels and annotations keep it this Replication's copy of
// the same source, and the restore marks say which failover made it from
// what. A claim of that name that this failover did not make is refused.
func createReplacement(ctx context.Context, cs kubernetes.Interface, old *corev1.PersistentVolumeClaim,
	in contract.ReplaceFromPointInput, minSize, volume string) (*corev1.PersistentVolumeClaim, error) {
	labels := map[string]string{}
	for k, v := range old.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range old.Annotations {
		annotations[k] = v
	}
	annotations[kube.AnnotationRestoredBy] = in.Op.WorkflowID
	annotations[kube.AnnotationRestoredFrom] = restoredFrom(in)
	annotations[kube.AnnotationCopiedAt] = in.Point.CopiedAt.UTC().Format(time.RFC3339Nano)
	claim, err := kube.ClaimFrom(old, in.DR.Namespace, in.DR.Name, kube.SnapshotSource(in.Point.Name), minSize, labels, annotations)
	if err != nil {
		return nil, activities.NonRetryable(contract.ErrTypeSnapshotFailed, "%v", err)
	}
	claims := cs.CoreV1().PersistentVolumeClaims(in.DR.Namespace)
	activity.RecordHeartbeat(ctx, fmt.Sprintf("creating DR PVC %s from restore point %s", in.DR, in.Point.Name))
	_, err = claims.Create(ctx, claim, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, err := claims.Get(ctx, claim.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get DR PVC %s: %w", in.DR, err)
		}
		if existing.Annotations[kube.AnnotationRestoredBy] != in.Op.WorkflowID {
			return nil, activities.NonRetryable(contract.ErrTypeConflict,
				"PVC %s was made again by someone else after this failover deleted it; the replaced copy's data is on volume %s", in.DR, volume)
		}
	} else if err != nil {
		return nil, fmt.Errorf("create DR PVC %s from restore point %s: %w", in.DR, in.Point.Name, err)
	}
	return claim, nil
}
