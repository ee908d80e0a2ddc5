package resources

import (
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Labels and annotations dr-syncer puts on the objects it writes in DR. All
// are dr-syncer.io/ keys: a copy's other labels and annotations are exactly
// the source's.
const (
	// LabelManagedBy marks objects dr-syncer created; it never changes or
	// deletes a DR object without it.
	LabelManagedBy = kube.LabelCopy
	// ManagedByValue is LabelManagedBy's value on dr-syncer's objects.
	ManagedByValue = kube.ManagedBy
	// AnnotationSource names the source object as "<cluster>/<namespace>/<name>".
	AnnotationSource = kube.AnnotationSource
	// AnnotationReplication names the Replication ("<namespace>/<name>") that
	// owns the DR object; pruning only ever deletes objects of its own replication.
	AnnotationReplication = kube.AnnotationReplication
	// AnnotationReleased names the Replication that let go of a copy because
	// its source got the ignore label: the copy is no longer updated or
	// deleted, and is taken back when the label goes.
	AnnotationReleased = "dr-syncer.io/released-from"
	// AnnotationDesiredHash is a digest of what dr-syncer last wrote, so a
	// resync can tell "source unchanged" without a write.
	AnnotationDesiredHash = "dr-syncer.io/desired-hash"
	// AnnotationOriginalSuspend records that dr-syncer suspended a CronJob or
	// Job in DR, and whether the source was suspended.
	AnnotationOriginalSuspend = "dr-syncer.io/original-suspend"
)

// Options are the parts of a Replication that shape DR objects.
type Options struct {
	SourceCluster        string
	SourceNamespace      string
	DestinationNamespace string
	// Replication is "<namespace>/<name>" of the Replication.
	Replication string
	ScaleToZero bool
	Ingress     IngressOptions
	PVC         PVCOptions
	// FromCopies says the source namespace is this Replication's DR
	// namespace (a failback or a drill): its copies are what is copied, not
	// chained copies to leave out, and the replicas and suspend they
	// recorded are the application's.
	FromCopies bool
	// Reverse says the destination is the source namespace the copies were
	// made from (a failback): what is written there is the original again,
	// never marked as a copy, and nothing in it starts (see TransformReverse).
	Reverse bool
}

// IngressOptions say what of an Ingress travels.
type IngressOptions struct {
	PreserveAnnotations bool
	PreserveTLS         bool
	PreserveBackends    bool
}

// PVCOptions shape PVC objects.
type PVCOptions struct {
	kube.ClaimMapping
	SyncPersistentVolumes bool
	// PortableVolumes are the source PVs replicated with their names (see
	// VolumePortable); a claim keeps its volumeName only when it binds to one.
	PortableVolumes map[string]bool
}
