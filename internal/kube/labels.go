package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Labels on every object a sync creates. Cleanup deletes by them, so nothing
// a run creates can be orphaned.
const (
	// LabelManagedBy marks dr-syncer's own working objects (mount and sync
	// pods, credential Secrets, the namespaces it makes). Replicated copies
	// never get it: they keep the source's value (LabelCopy marks them).
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "dr-syncer"
	// LabelOperation ties an object to one PVC sync (its workflow ID, hashed:
	// label values are short). A new run of the same sync finds and removes
	// what a crashed run left.
	LabelOperation = "dr-syncer.io/operation"
	// LabelRun ties an object to one workflow run.
	LabelRun = "dr-syncer.io/run"
	// LabelRole is mount, sync or credentials.
	LabelRole = "dr-syncer.io/role"
)

// Marks of a DR copy. Only dr-syncer.io/ keys are dr-syncer's, so a copy's
// own labels and annotations stay exactly the source's (Helm's managed-by
// included), and ownership is decided by these alone.
const (
	// LabelCopy (value ManagedBy) marks an object dr-syncer replicated.
	LabelCopy = "dr-syncer.io/managed-by"
	// AnnotationSource names the source object as "<cluster>/<namespace>/<name>".
	AnnotationSource = "dr-syncer.io/source"
	// AnnotationReplication names the Replication ("<namespace>/<name>")
	// that owns the copy; nothing else may write, prune or mount it.
	AnnotationReplication = "dr-syncer.io/replication"
)

// IsCopy reports whether labels mark a dr-syncer copy: LabelCopy, or the
// app.kubernetes.io/managed-by value copies carried before LabelCopy existed
// (their next sync migrates them).
func IsCopy(labels map[string]string) bool {
	return labels[LabelCopy] == ManagedBy || labels[LabelManagedBy] == ManagedBy
}

// OperationID is the label-safe, name-safe key of a workflow ID.
func OperationID(workflowID string) string {
	sum := sha256.Sum256([]byte(workflowID))
	return hex.EncodeToString(sum[:])[:16]
}

// OperationLabels are the labels of an object created by one run of one
// sync, or of a batch that mounts the claims of the member syncs.
func OperationLabels(workflowID, runID, role string, members ...string) map[string]string {
	labels := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelOperation: OperationID(workflowID),
		LabelRun:       runID,
		LabelRole:      role,
	}
	for _, m := range members {
		labels[MemberLabel(m)] = ManagedBy
	}
	return labels
}

// MemberLabel is the label key that marks an object of another operation
// (a batch's pods and Secrets) as serving the sync workflowID. A run that
// ends without deleting its batches (terminated by hand) leaves pods that
// hold its members' claims; the next sync of each member finds them by it.
// One key per member: a batch has many, and label values hold only one.
func MemberLabel(workflowID string) string {
	return "member.dr-syncer.io/" + OperationID(workflowID)
}

// MemberSelector selects the working objects of other operations that
// serve the sync workflowID: what its pre-run cleanup also deletes.
func MemberSelector(workflowID string) string {
	return labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, MemberLabel(workflowID): ManagedBy}).String()
}

// OperationSelector selects every working object of one sync or restore
// (any run of it): what its cleanup deletes.
func OperationSelector(workflowID string) string {
	return labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, LabelOperation: OperationID(workflowID)}).String()
}

// RemoveLabelsPatch is a JSON merge patch that removes the labels keys:
// how a working object becomes a kept one (a restore point, a restored PVC).
func RemoveLabelsPatch(keys ...string) []byte {
	drop := map[string]any{}
	for _, k := range keys {
		drop[k] = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": drop}}) // maps of strings always marshal
	return patch
}

// LabelDrill marks a DR drill's scratch namespace with the drill's
// OperationID: teardown deletes only a namespace that carries it.
const LabelDrill = "dr-syncer.io/drill"

// Names returns the names of a list's items, or the list call's error.
func Names(list runtime.Object, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for _, item := range items {
		object, err := meta.Accessor(item)
		if err != nil {
			return nil, err
		}
		names = append(names, object.GetName())
	}
	return names, nil
}
