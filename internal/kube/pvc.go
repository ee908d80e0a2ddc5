package kube

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations dr-syncer puts on target PVCs, so an operator looking at a DR
// volume can tell where its data comes from and how fresh it is.
const (
	AnnotationSourceCluster      = "dr-syncer.io/source-cluster"
	AnnotationSourceNamespace    = "dr-syncer.io/source-namespace"
	AnnotationSourcePVC          = "dr-syncer.io/source-pvc"
	AnnotationSourceSize         = "dr-syncer.io/source-size"
	AnnotationSourceStorageClass = "dr-syncer.io/source-storage-class"
	AnnotationLastDataSync       = "dr-syncer.io/last-data-sync"
	// AnnotationSourceUID and AnnotationSourceVolume record which source
	// claim the DR data copies: a claim deleted and created again under the
	// same name is another claim, and its data must not silently replace
	// the copy.
	AnnotationSourceUID    = "dr-syncer.io/source-uid"
	AnnotationSourceVolume = "dr-syncer.io/source-volume"
	// AnnotationSourceDeletedAt is when a kept DR volume's source disappeared.
	AnnotationSourceDeletedAt = "dr-syncer.io/source-deleted-at"
)

// ClaimMapping says how a source claim's spec becomes its DR counterpart's.
// The PVC sync and object replication both apply it, so a DR claim has the
// same spec whichever of them creates it.
type ClaimMapping struct {
	// StorageClasses and AccessModes rename source values; unlisted ones are kept.
	StorageClasses map[string]string
	AccessModes    map[string]string
	// PreserveVolumeAttributes keeps the selector, data source and
	// VolumeAttributesClass. The volume mode is always kept: a Filesystem
	// copy of a Block volume would not be a copy.
	PreserveVolumeAttributes bool
}

// MapStorageClass is the DR name of a source storage class.
func (m ClaimMapping) MapStorageClass(class string) string {
	if to, ok := m.StorageClasses[class]; ok {
		return to
	}
	return class
}

// MapSpec turns a copy of a source claim's spec into the DR claim's. The
// caller has already dropped a volumeName that does not carry over.
func (m ClaimMapping) MapSpec(spec *corev1.PersistentVolumeClaimSpec) {
	if spec.StorageClassName != nil {
		class := m.MapStorageClass(*spec.StorageClassName)
		spec.StorageClassName = &class
		if class == "" && spec.VolumeName == "" {
			// Without a class and a volume to bind, nothing would provision
			// the DR volume the data sync needs; the DR default class does.
			spec.StorageClassName = nil
		}
	}
	spec.AccessModes = mapAccessModes(spec.AccessModes, m.AccessModes)
	if !m.PreserveVolumeAttributes {
		// A selector of source PVs or a snapshot as data source rarely
		// exist in DR; the data sync fills the volume instead.
		spec.Selector = nil
		spec.DataSource = nil
		spec.DataSourceRef = nil
		spec.VolumeAttributesClassName = nil
	}
}

// PVCMapping says how a source PVC becomes a DR PVC.
type PVCMapping struct {
	SourceCluster        string
	DestinationNamespace string
	// Replication is "<namespace>/<name>" of the Replication that owns the copy.
	Replication string
	ClaimMapping
}

// StorageClass is the DR storage class of source ("" means the DR default).
func (m PVCMapping) StorageClass(source *corev1.PersistentVolumeClaim) string {
	if class := m.newClaimSpec(source).StorageClassName; class != nil {
		return *class
	}
	return ""
}

// newClaimSpec is the spec of a new DR claim for source.
func (m PVCMapping) newClaimSpec(source *corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaimSpec {
	spec := source.Spec.DeepCopy()
	// It names the source cluster's PV.
	spec.VolumeName = ""
	m.MapSpec(spec)
	return *spec
}

// TargetPVC returns the DR PVC for source. With existing nil it is a new
// claim; otherwise it is existing with only what may change on a live claim
// changed: labels, annotations, and the size, which grows to the source's but
// never shrinks (shrinking would destroy DR data). It records source as the
// claim the copy belongs to: the caller has checked CheckClaim first.
func TargetPVC(source, existing *corev1.PersistentVolumeClaim, m PVCMapping) *corev1.PersistentVolumeClaim {
	sourceSize := source.Spec.Resources.Requests[corev1.ResourceStorage]
	var target *corev1.PersistentVolumeClaim
	if existing != nil {
		target = existing.DeepCopy()
		current := target.Spec.Resources.Requests[corev1.ResourceStorage]
		if sourceSize.Cmp(current) > 0 {
			target.Spec.Resources.Requests[corev1.ResourceStorage] = sourceSize.DeepCopy()
			// The API server refuses a request above the claim's limit.
			if limit, set := target.Spec.Resources.Limits[corev1.ResourceStorage]; set && sourceSize.Cmp(limit) > 0 {
				target.Spec.Resources.Limits[corev1.ResourceStorage] = sourceSize.DeepCopy()
			}
		}
	} else {
		target = &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: source.Name, Namespace: m.DestinationNamespace},
			Spec:       m.newClaimSpec(source),
		}
	}
	if target.Labels == nil {
		target.Labels = map[string]string{}
	}
	if target.Labels[LabelManagedBy] == ManagedBy && source.Labels[LabelManagedBy] != ManagedBy {
		// A copy from before LabelCopy: the source's own value (or none) returns.
		delete(target.Labels, LabelManagedBy)
	}
	for k, v := range source.Labels {
		target.Labels[k] = v
	}
	target.Labels[LabelCopy] = ManagedBy
	if target.Annotations == nil {
		target.Annotations = map[string]string{}
	}
	for k, v := range source.Annotations {
		if !clusterOwnedAnnotation(k) {
			target.Annotations[k] = v
		}
	}
	target.Annotations[AnnotationSourceCluster] = m.SourceCluster
	target.Annotations[AnnotationSourceNamespace] = source.Namespace
	target.Annotations[AnnotationSourcePVC] = source.Name
	target.Annotations[AnnotationSourceSize] = sourceSize.String()
	target.Annotations[AnnotationSourceStorageClass] = StorageClassOf(source)
	target.Annotations[AnnotationSource] = m.SourceCluster + "/" + source.Namespace + "/" + source.Name
	target.Annotations[AnnotationReplication] = m.Replication
	target.Annotations[AnnotationSourceUID] = string(source.UID)
	target.Annotations[AnnotationSourceVolume] = source.Spec.VolumeName
	// The source is there (again).
	delete(target.Annotations, AnnotationSourceDeletedAt)
	return target
}

// Unmarked returns pvc without the marks of a copy: LabelCopy (and the
// managed-by value copies carried before it) and every dr-syncer.io/
// annotation, all of which TargetPVC and MarkDataSynced wrote. A failback
// turns the claim it created in the source into the original this way,
// once the DR copy's data is in it.
func Unmarked(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	out := pvc.DeepCopy()
	delete(out.Labels, LabelCopy)
	if out.Labels[LabelManagedBy] == ManagedBy {
		delete(out.Labels, LabelManagedBy)
	}
	for k := range out.Annotations {
		if strings.HasPrefix(k, "dr-syncer.io/") {
			delete(out.Annotations, k)
		}
	}
	return out
}

// StorageClassOf is the claim's storage class name, "" when it names none.
func StorageClassOf(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName == nil {
		return ""
	}
	return *pvc.Spec.StorageClassName
}

// MarkDataSynced records when data last arrived; it is the one annotation a
// user checks to know how far behind DR is.
func MarkDataSynced(pvc *corev1.PersistentVolumeClaim, at time.Time) {
	if pvc.Annotations == nil {
		pvc.Annotations = map[string]string{}
	}
	pvc.Annotations[AnnotationLastDataSync] = at.UTC().Format(time.RFC3339)
}

// PVCSize is a PVC's requested storage, as a quantity string.
func PVCSize(pvc *corev1.PersistentVolumeClaim) string {
	q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	return q.String()
}

func mapAccessModes(modes []corev1.PersistentVolumeAccessMode, mapping map[string]string) []corev1.PersistentVolumeAccessMode {
	out := make([]corev1.PersistentVolumeAccessMode, 0, len(modes))
	seen := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		if to, ok := mapping[string(m)]; ok {
			m = corev1.PersistentVolumeAccessMode(to)
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// clusterOwnedAnnotation is set by the source cluster's control plane about
// its own volume, and would mislead the DR cluster's.
func clusterOwnedAnnotation(key string) bool {
	for _, prefix := range []string{"pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/", "kubectl.kubernetes.io/", "dr-syncer.io/"} {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}
