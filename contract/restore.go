package contract

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// LatestRestorePoint, as RestoreInput.Point, picks the newest complete
// restore point of the DR PVC.
const LatestRestorePoint = "latest"

// RestorePointsInput asks for a Replication's restore points.
type RestorePointsInput struct {
	Replication ObjectRef `json:"replication"`
	// PVC limits the list to one DR PVC (named as its source); empty lists all.
	PVC string `json:"pvc,omitempty"`
}

// RestorePointsResult is where a Replication's DR copies are and their
// restore points, newest first.
type RestorePointsResult struct {
	Replication          string         `json:"replication"`
	DestinationCluster   string         `json:"destinationCluster"`
	DestinationNamespace string         `json:"destinationNamespace"`
	Points               []RestorePoint `json:"points"`
}

// RestoreInput asks for a new PVC made from a restore point of a DR PVC.
// The DR PVC and its restore points are only read.
type RestoreInput struct {
	Replication ObjectRef `json:"replication"`
	// PVC is the DR PVC (named as its source) whose restore point to use.
	PVC string `json:"pvc"`
	// Point is a restore point's name, or LatestRestorePoint.
	Point string `json:"point"`
	// ToNamespace is where the new PVC goes; empty: the DR namespace.
	ToNamespace string `json:"toNamespace,omitempty"`
	// Name is the new PVC's name; empty: RestoredPVCName.
	Name string `json:"name,omitempty"`
	// CreateNamespace creates ToNamespace when it is missing.
	CreateNamespace bool `json:"createNamespace,omitempty"`
}

// Problem says what is wrong with the request, "" if nothing: the CLI and
// the workflow both check it, so a bad name fails at once, not at the API
// server after retries.
func (in RestoreInput) Problem() string {
	var problems []string
	switch {
	case in.Replication.Namespace == "" || in.Replication.Name == "":
		problems = append(problems, "name the Replication as NAMESPACE/NAME")
	case in.PVC == "":
		problems = append(problems, "name the DR PVC to restore")
	case in.Point == "":
		problems = append(problems, fmt.Sprintf("name the restore point, or %q", LatestRestorePoint))
	}
	if in.Name != "" {
		for _, p := range validation.IsDNS1123Subdomain(in.Name) {
			problems = append(problems, fmt.Sprintf("new PVC name %q: %s", in.Name, p))
		}
	}
	if in.ToNamespace != "" {
		for _, p := range validation.IsDNS1123Label(in.ToNamespace) {
			problems = append(problems, fmt.Sprintf("namespace %q: %s", in.ToNamespace, p))
		}
	}
	return strings.Join(problems, "; ")
}

// RestoreResult is the PVC a restore made and what it holds.
type RestoreResult struct {
	RestoredPVC
	// Point is the restore point it was made from, in FromNamespace.
	Point         RestorePoint `json:"point"`
	FromNamespace string       `json:"fromNamespace"`
}

// RestoredPVCName is the default name of a PVC restored from a point that
// holds copiedAt: "<pvc>-restored-<UTC yyyymmdd-hhmmss>".
func RestoredPVCName(pvc string, copiedAt time.Time) string {
	if len(pvc) > 200 {
		pvc = pvc[:200]
	}
	return fmt.Sprintf("%s-restored-%s", pvc, copiedAt.UTC().Format("20060102-150405"))
}

// FindRestorePointInput names one restore point of a DR PVC.
type FindRestorePointInput struct {
	DR          PVCRef `json:"dr"` // the DR PVC
	Replication string `json:"replication"`
	// Point is a restore point's name, or LatestRestorePoint.
	Point string `json:"point"`
}

// RestoreTargetInput is where a restore puts its new PVC.
type RestoreTargetInput struct {
	Op              Operation `json:"op"`
	PVC             PVCRef    `json:"pvc"` // the new PVC
	CreateNamespace bool      `json:"createNamespace,omitempty"`
}

// ShareRestorePointInput makes a restore point usable in another namespace
// of the DR cluster.
type ShareRestorePointInput struct {
	Op          Operation  `json:"op"`
	Cluster     ClusterRef `json:"cluster"`
	Namespace   string     `json:"namespace"` // the restore point's
	Point       string     `json:"point"`
	ToNamespace string     `json:"toNamespace"`
}

// RestoreFromPointInput creates the new PVC from a VolumeSnapshot in its
// own namespace: the restore point itself, or its shared copy.
type RestoreFromPointInput struct {
	Op Operation `json:"op"`
	// DR is the DR PVC: the new PVC gets its class, access and volume modes
	// and at least its size.
	DR     PVCRef       `json:"dr"`
	Point  RestorePoint `json:"point"`
	Target PVCRef       `json:"target"` // the new PVC
	// Snapshot is the VolumeSnapshot in Target's namespace to restore.
	Snapshot string `json:"snapshot"`
}

// RestoredPVC is a PVC a restore made.
type RestoredPVC struct {
	PVC          PVCRef `json:"pvc"`
	StorageClass string `json:"storageClass,omitempty"`
	Size         string `json:"size"`
	// Bound is false for a class that binds when a pod first uses the claim.
	Bound bool `json:"bound"`
}

// CleanupRestoreInput names where a restore may have left temporary objects.
type CleanupRestoreInput struct {
	Op        Operation  `json:"op"`
	Cluster   ClusterRef `json:"cluster"`
	Namespace string     `json:"namespace"` // the new PVC's
}

// DRLocation is where a Replication's DR copies are.
type DRLocation struct {
	Destination ClusterRef `json:"destination"`
	Namespace   string     `json:"namespace"`
}

// ReplaceFromPointInput replaces a DR PVC's live data with one of its
// restore points, in place (same PVC name, same namespace), for a failover
// whose last sync did not complete.
type ReplaceFromPointInput struct {
	Op          Operation    `json:"op"`          // the failover's workflow ID and run ID; marks what the step changes
	DR          PVCRef       `json:"dr"`          // the DR PVC
	Replication string       `json:"replication"` // "<ns>/<name>", as restore points are labelled
	Point       RestorePoint `json:"point"`       // one of the DR PVC's restore points (a VolumeSnapshot in DR.Namespace)
}

// ReplaceFromPointResult is the DR PVC made again from a restore point, and
// where its former data is.
type ReplaceFromPointResult struct {
	PVC   string `json:"pvc"`   // the DR PVC, as cluster/namespace/name
	Point string `json:"point"` // the restore point's name
	// RetainedVolume is the PV that held the live copy: kept (reclaim
	// policy Retain), labelled, for a person to inspect or delete.
	RetainedVolume string `json:"retainedVolume"`
}
