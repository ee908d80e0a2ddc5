package contract

import (
	"time"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// PVCInfo is what Discover found about a source PVC.
type PVCInfo struct {
	StorageClass string   `json:"storageClass"`
	AccessModes  []string `json:"accessModes"`
	Size         string   `json:"size"`
	VolumeName   string   `json:"volumeName"`
	// MountedBy lists the pods that use the claim, as namespace-local names.
	MountedBy []string `json:"mountedBy,omitempty"`
}

// ListPVCsInput names a source namespace, and the DR namespace its copies
// are in (empty in runs from before it was passed: no DR check then).
type ListPVCsInput struct {
	Cluster              ClusterRef `json:"cluster"`
	Namespace            string     `json:"namespace"`
	Destination          ClusterRef `json:"destination,omitempty"`
	DestinationNamespace string     `json:"destinationNamespace,omitempty"`
}

// PVCList is the source PVCs whose data a run syncs, and those it leaves out.
type PVCList struct {
	Names []string `json:"names"`
	// Skipped maps a PVC to why its data is not synced.
	Skipped map[string]string `json:"skipped,omitempty"`
}

// CleanupInput names where an operation may have created objects.
type CleanupInput struct {
	Op                   Operation  `json:"op"`
	Source               ClusterRef `json:"source"`
	SourceNamespace      string     `json:"sourceNamespace"`
	Destination          ClusterRef `json:"destination"`
	DestinationNamespace string     `json:"destinationNamespace"`
	// Leftovers also deletes the pods and Secrets of other operations that
	// serve Op (kube.MemberSelector): batches a run left when it ended
	// without deleting them. Only a sync's pre-run cleanup sets it: at its
	// end, its run's batch may still serve the other members.
	Leftovers bool `json:"leftovers,omitempty"`
}

// CleanupResult lists what was deleted, as cluster/kind/namespace/name.
type CleanupResult struct {
	Deleted []string `json:"deleted"`
}

// WorkingObjects lists what a Cleanup of the same input would delete, as
// cluster/kind/namespace/name.
type WorkingObjects struct {
	Objects []string `json:"objects,omitempty"`
}

// CredentialsInput says where the operation's pods run and where the
// cluster-pair key lives. Only references travel: key material never enters
// workflow history.
type CredentialsInput struct {
	Op                   Operation  `json:"op"`
	Source               ClusterRef `json:"source"`
	SourceNamespace      string     `json:"sourceNamespace"`
	Destination          ClusterRef `json:"destination"`
	DestinationNamespace string     `json:"destinationNamespace"`
	// ClusterKey holds the cluster-pair private key (id_ed25519): the CA
	// that signs the operation's certificate; it never leaves the control
	// cluster.
	ClusterKey SecretRef `json:"clusterKey"`
	// AgentHostKey holds the source agent's public host key
	// (ssh_host_ed25519_key.pub, and .previous.pub during a rotation).
	AgentHostKey SecretRef `json:"agentHostKey"`
	// Authority is the run this step acts for. The activity resolves it
	// and refuses an input that does not match (see ErrTypeInputMismatch).
	// Steps scheduled before it existed carry none.
	Authority *PlanRequest `json:"authority,omitempty"`
}

// Credentials names the per-operation Secret, which has the same name in
// both clusters.
type Credentials struct {
	Secret string `json:"secret"`
}

// MountPodInput places the source-side mount pod.
type MountPodInput struct {
	Op          Operation `json:"op"`
	PVC         PVCRef    `json:"pvc"`
	Node        string    `json:"node"`
	Image       Image     `json:"image"`
	Credentials string    `json:"credentials"`
	// Authority is the run this step acts for. The activity resolves it
	// and refuses an input that does not match (see ErrTypeInputMismatch).
	// Steps scheduled before it existed carry none.
	Authority *PlanRequest `json:"authority,omitempty"`
}

// MountPod is a ready mount pod.
type MountPod struct {
	Name string `json:"name"`
	// Target is the rsync daemon's ip:port, as the agent on the node reaches it.
	Target string `json:"target"`
}

// PodName is the mount pod's name.
func (in MountPodInput) PodName() string { return in.Op.Name("mount") }

// Target names the mount pod's rsync daemon before the pod exists; the agent
// resolves the name once the pod has an IP.
func (in MountPodInput) Target() string { return kube.MountTarget(in.PVC.Namespace, in.PodName()) }

// ChooseNodesInput names the source PVC and the DR cluster.
type ChooseNodesInput struct {
	Source      PVCRef     `json:"source"`
	Destination ClusterRef `json:"destination"`
	// TargetStorageClass is the DR claim's class: its provisioner is the
	// CSI driver whose attach limit bounds the DR node.
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
	// TargetNamespace and TargetName are the DR claim, for
	// provisioning it on the chosen DR node ahead of its sync pod
	// (ChooseNodes); empty in runs from before they were passed.
	TargetNamespace string `json:"targetNamespace,omitempty"`
	TargetName      string `json:"targetName,omitempty"`
}

// NodePlan is where the mount pod and the sync pod run, and why.
type NodePlan struct {
	Source kube.NodeChoice `json:"source"`
	// SourceAddress is the source node's InternalIP, where its agent listens.
	SourceAddress string          `json:"sourceAddress"`
	Target        kube.NodeChoice `json:"target"`
	// AttachLimit is the fewer of the volumes of the source claim's and
	// the DR claim's CSI drivers that the two nodes may hold (CSINode
	// allocatable count); 0 when neither node reports a limit. A batch's
	// pods mount all their claims on these nodes at once.
	AttachLimit int `json:"attachLimit,omitempty"`
	// MoverRoom is how many movers of the worker's data-pod requests the
	// DR node has room for, besides dr-syncer's own working pods; 0 when
	// the node reports no allocatable resources. A batch's sync pod asks
	// for all its movers at once.
	MoverRoom int `json:"moverRoom,omitempty"`
}

// TargetPVCInput says which DR PVC to make for which source PVC.
type TargetPVCInput struct {
	Source               PVCRef     `json:"source"`
	Destination          ClusterRef `json:"destination"`
	DestinationNamespace string     `json:"destinationNamespace"`
	// CreateNamespace creates the DR namespace when it is missing.
	CreateNamespace          bool              `json:"createNamespace"`
	StorageClassMappings     map[string]string `json:"storageClassMappings,omitempty"`
	AccessModeMappings       map[string]string `json:"accessModeMappings,omitempty"`
	PreserveVolumeAttributes bool              `json:"preserveVolumeAttributes"`
	// Replication ("<namespace>/<name>") owns the DR PVC; no other may write it.
	Replication string `json:"replication,omitempty"`
	// Acknowledged: a person accepted a replaced source (accept-changes).
	Acknowledged bool `json:"acknowledged,omitempty"`
	// Direction is the run's. In a reverse run the target may be the
	// original claim the DR copy (Source) was made from: it is written in
	// place, never marked as a copy, and only ever grown.
	Direction Direction `json:"direction,omitempty"`
}

// TargetPVC is the DR PVC after EnsureTargetPVC.
type TargetPVC struct {
	Name         string   `json:"name"`
	Namespace    string   `json:"namespace"`
	StorageClass string   `json:"storageClass"`
	AccessModes  []string `json:"accessModes"`
	Size         string   `json:"size"`
	Created      bool     `json:"created"`
	// Grown is true when the DR PVC was enlarged to the source's size.
	Grown bool `json:"grown"`
}

// MarkSyncedInput names the DR PVC whose data just arrived.
type MarkSyncedInput struct {
	Destination ClusterRef `json:"destination"`
	Namespace   string     `json:"namespace"`
	Name        string     `json:"name"`
	// At is when the sync finished, taken from workflow time so a replay agrees.
	At time.Time `json:"at"`
	// Direction is the run's. In a reverse run an original target is left
	// as it is, and a target the run created becomes the original, with
	// the DR copy (Source) recorded as its copy.
	Direction Direction `json:"direction,omitempty"`
	// Source is the claim the data came from; set in reverse runs only, so
	// a forward run's input is what it always was.
	Source *PVCRef `json:"source,omitempty"`
}

// TransferInput places the DR-side sync pod and says what it pulls from where.
type TransferInput struct {
	Op Operation `json:"op"`
	// PVC is the DR PVC the data goes into.
	PVC   PVCRef `json:"pvc"`
	Node  string `json:"node"`
	Image Image  `json:"image"`
	// AgentAddr is the source node's agent, host:port.
	AgentAddr string `json:"agentAddr"`
	// Target is the mount pod's rsync daemon as the agent reaches it: ip:port,
	// or kube.MountTarget's "<namespace>/<pod>:port".
	Target      string `json:"target"`
	Credentials string `json:"credentials"`
	// ClusterKey and AgentHostKey are CredentialsInput's: Transfer issues
	// the sync pod's certificate, bound to Target, whenever it creates a
	// sync pod, so a retry after the certificate expired or the key was
	// rotated gets a fresh one. Nil in runs started by a worker that copied
	// the cluster-pair key instead.
	ClusterKey   *SecretRef `json:"clusterKey,omitempty"`
	AgentHostKey *SecretRef `json:"agentHostKey,omitempty"`
	// Config is the validated data sync config the mover runs with.
	Config rsyncargs.Config `json:"config"`
	// Acknowledged says a person accepted the source's change
	// (drv1.AnnotationAcceptChanges): the mover's data guard then lets a
	// source that shrank under a tenth of the DR copy replace it.
	Acknowledged bool `json:"acknowledged,omitempty"`
	// Mount is the mount pod Target names. When set, Transfer keeps it: a
	// mount pod that is lost (deleted, failed, evicted) while the transfer
	// runs is created again at once, so the mover's wait for its target and
	// the next attempt find one. Syncs started before this field existed
	// leave it unset.
	Mount *MountPodInput `json:"mount,omitempty"`
	// Authority is the run this step acts for. The activity resolves it
	// and refuses an input that does not match (see ErrTypeInputMismatch).
	// Steps scheduled before it existed carry none.
	Authority *PlanRequest `json:"authority,omitempty"`
	// Progress is the Replication run the transfer reports its bytes to
	// (SignalPVCProgress); nil for a sync without a parent run, and in
	// syncs started before runs aggregated their children's progress.
	Progress *ProgressTarget `json:"progress,omitempty"`
	// Follow names a mover container of a sync pod that the Replication
	// run created for a batch of PVCs (docs/design-batched-pvc-sync.md).
	// When set, Transfer creates nothing (no certificate, no pod) and keeps
	// no mount pod (Mount is not used): it follows that container as it
	// follows its own sync pod's mover otherwise. Nil in solo syncs and in
	// every sync started before batches; omitted from JSON then, so their
	// inputs in recorded histories are unchanged.
	Follow *FollowedMover `json:"follow,omitempty"`
}

// FollowedMover is a mover container of a batch sync pod, in the cluster
// and namespace of TransferInput.PVC.
type FollowedMover struct {
	Pod string `json:"pod"`
	// Container is the pod's container that fills TransferInput.PVC
	// (kube.BatchMoverContainer of the claim's index) in a pod with a
	// mover per claim.
	Container string `json:"container"`
	// Claim, when set, is the claim's module (kube.BatchModule of its
	// index): the batch asked for one mover for all its claims
	// (BatchPodsInput.OneMover), so the sync follows it as
	// ActivityTransferBatchClaim. The transfer itself goes by the pod: it
	// follows this claim's lines in a pod of one mover, and Container in a
	// pod that a worker of older code made with a mover per claim.
	Claim string `json:"claim,omitempty"`
}

// Transfer phases (TransferProgress.Phase): the sync pod is starting, its
// mover is moving bytes, the mover is done and its summary is read, or the
// transfer succeeded (the last report to the run, whose place for moving
// data it frees; the sync marks its DR claim synced next).
const (
	TransferStarting     = "starting"
	TransferTransferring = "transferring"
	TransferFinishing    = "finishing"
	TransferMoved        = "moved"
)

// TransferProgress is the heartbeat of Transfer: what the Web UI shows on
// the pending activity, and where a retry picks up.
type TransferProgress struct {
	Phase string `json:"phase"`
	progress.Snapshot
	// ResumedFromBytes is how far an earlier attempt got.
	ResumedFromBytes int64 `json:"resumedFromBytes,omitempty"`
	// ETASeconds and ETA are the time left at the current rate (see
	// Readable); absent while the size or the rate is unknown.
	ETASeconds int64  `json:"etaSeconds,omitempty"`
	ETA        string `json:"eta,omitempty"`
}

// TransferResult is the mover's summary.
type TransferResult struct {
	Stats            progress.Stats         `json:"stats"`
	Streams          int                    `json:"streams"`
	DurationSeconds  float64                `json:"durationSeconds"`
	Verification     *progress.Verification `json:"verification,omitempty"`
	ResumedFromBytes int64                  `json:"resumedFromBytes,omitempty"`
	// Guard is the data guard's verdict with its counts; nil when the DR
	// copy was empty and no pre-flight ran.
	Guard *progress.GuardVerdict `json:"guard,omitempty"`
}
