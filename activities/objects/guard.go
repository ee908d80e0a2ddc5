package objects

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// keepVolume handles a DR volume of this replication whose source is gone:
// it stays, with the time its source disappeared, unless a person annotated
// it for deletion.
func (r *kindRun) keepVolume(ctx context.Context, obj *unstructured.Unstructured, status contract.ObjectStatus) (contract.ObjectStatus, *contract.WorkloadScale, bool) {
	since := obj.GetAnnotations()[kube.AnnotationSourceDeletedAt]
	if obj.GetAnnotations()[drv1.AnnotationDeleteCopy] == "true" {
		status.Action = contract.ActionDeleteCopy
		if err := r.delete(ctx, obj, nil); err != nil && !apierrors.IsNotFound(err) {
			return failedStatus(status, fmt.Errorf("delete %s %s as annotated %s: %w", r.kind, obj.GetName(), drv1.AnnotationDeleteCopy, err)), nil, false
		}
		status.State = contract.StateSynced
		status.Detail = fmt.Sprintf("deleted as annotated %s=true; its source was gone since %s", drv1.AnnotationDeleteCopy, since)
		return status, nil, true
	}
	wrote := false
	if since == "" {
		since = time.Now().UTC().Format(time.RFC3339)
		if err := r.patchMeta(ctx, obj.GetName(), nil, map[string]any{kube.AnnotationSourceDeletedAt: since}); err != nil {
			return failedStatus(status, err), nil, false
		}
		wrote = true
	}
	status.State, status.Action = contract.StateSourceDeleted, "Keep"
	status.Error = fmt.Sprintf("its source is gone (since %s); the DR copy and its data are kept. To delete them, annotate the DR object with %s=true",
		since, drv1.AnnotationDeleteCopy)
	return status, nil, wrote
}

// release lets go of the DR copy of a source object that got the ignore
// label: the copy stays as it is and is neither updated nor deleted again,
// until the label goes and the copy is taken back.
func (r *kindRun) release(ctx context.Context, obj *unstructured.Unstructured, status contract.ObjectStatus) (contract.ObjectStatus, *contract.WorkloadScale, bool) {
	status.Error += "; its DR copy is released: kept as it is, no longer updated or deleted"
	if !resources.Owned(obj, r.opts.Replication) {
		return status, nil, false
	}
	labels := map[string]any{kube.LabelCopy: nil}
	if obj.GetLabels()[kube.LabelManagedBy] == kube.ManagedBy {
		labels[kube.LabelManagedBy] = nil // the mark copies had before kube.LabelCopy
	}
	status.Action = "Release"
	if err := r.patchMeta(ctx, obj.GetName(), labels, map[string]any{resources.AnnotationReleased: r.opts.Replication}); err != nil {
		return failedStatus(status, err), nil, false
	}
	return status, nil, true
}

// legacySourceManagedBy is where copies kept the source's managed-by label
// before copies became faithful.
const legacySourceManagedBy = "dr-syncer.io/source-managed-by"

// dropStaleMarks removes what says a copy's source was gone or ignored once
// the source is replicated again, and the managed-by marks of copies made
// before copies were faithful; patched reports a write.
func (r *kindRun) dropStaleMarks(ctx context.Context, existing, desired *unstructured.Unstructured) (patched bool, err error) {
	if existing == nil {
		return false, nil
	}
	stale := map[string]any{}
	for _, key := range []string{resources.AnnotationReleased, kube.AnnotationSourceDeletedAt, legacySourceManagedBy} {
		if _, ok := existing.GetAnnotations()[key]; ok {
			stale[key] = nil
		}
	}
	var labels map[string]any
	if existing.GetLabels()[kube.LabelManagedBy] == kube.ManagedBy && desired.GetLabels()[kube.LabelManagedBy] != kube.ManagedBy {
		labels = map[string]any{kube.LabelManagedBy: nil}
	}
	if len(stale) == 0 && labels == nil {
		return false, nil
	}
	return true, r.patchMeta(ctx, existing.GetName(), labels, stale)
}

// patchMeta merge-patches labels and annotations of one DR object (nil
// values remove). It is not a server-side apply: the marks it sets stay
// until removed on purpose, whatever the next apply leaves out.
func (r *kindRun) patchMeta(ctx context.Context, name string, labels, annotations map[string]any) error {
	meta := map[string]any{}
	if labels != nil {
		meta["labels"] = labels
	}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	data, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	if _, err := r.dst.Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{FieldManager: resourceFieldManager}); err != nil {
		return fmt.Errorf("mark %s %s: %w", r.kind, name, err)
	}
	return nil
}
