package contract

import (
	"fmt"

	"github.com/dr-syncer/dr-syncer/internal/kube"
	corev1 "k8s.io/api/core/v1"
)

// ClusterRef names a RemoteCluster.
type ClusterRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ObjectRef names a namespaced object of the control cluster.
type ObjectRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String is "namespace/name", the form users see in IDs and search attributes.
func (r ObjectRef) String() string { return r.Namespace + "/" + r.Name }

// PVCRef names a PVC in a RemoteCluster.
type PVCRef struct {
	Cluster   ClusterRef `json:"cluster"`
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
}

func (r PVCRef) String() string {
	return fmt.Sprintf("%s/%s/%s", r.Cluster.Name, r.Namespace, r.Name)
}

// Operation identifies one run of one PVC sync; everything it creates is
// named and labelled from it.
type Operation struct {
	WorkflowID string `json:"workflowID"`
	RunID      string `json:"runID"`
	// Members are the PVC syncs (workflow IDs) whose claims a batch
	// operation's pods mount; its objects carry kube.MemberLabel of each,
	// so a member's next sync can delete what an ended run left.
	Members []string `json:"members,omitempty"`
}

// Name is the deterministic name of the operation's object with role, so a
// retried or re-attached step finds what an earlier attempt created.
func (o Operation) Name(role string) string {
	return "drs-" + role + "-" + kube.OperationID(o.WorkflowID)
}

// Labels are the labels of the operation's object with role.
func (o Operation) Labels(role string) map[string]string {
	return kube.OperationLabels(o.WorkflowID, o.RunID, role, o.Members...)
}

// SecretRef names a Secret in the control cluster.
type SecretRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Image is the data-plane image the mount and sync pods run.
type Image struct {
	Reference  string            `json:"reference"`
	PullPolicy corev1.PullPolicy `json:"pullPolicy"`
}
