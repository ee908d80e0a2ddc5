package contract

import "github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"

// Batched pods (docs/design-batched-pvc-sync.md): PVC syncs of one run that
// share a node pair share one mount pod and one sync pod, which the run
// creates as the batch's own operation.

// PhaseWaitBatch is a PVC sync's phase from its join until the run's
// answer: its PVCProgressUpdate carries Join.
const PhaseWaitBatch = "WaitForBatch"

// SignalBatchAssigned is the run's answer to a PVC sync that joined a
// batch (BatchAssignment).
const SignalBatchAssigned = "batch-assigned"

// BatchJoin is what a PVC sync tells its run when it is ready to transfer:
// everything the run needs to place it in the batch's pods.
type BatchJoin struct {
	SourceNode string `json:"sourceNode"`
	TargetNode string `json:"targetNode"`
	// AgentAddr is the source node's agent, host:port.
	AgentAddr string `json:"agentAddr"`
	// ReadFrom is the claim the mount pod serves: the live source claim, or
	// the sync's point-in-time copy of it, in the source namespace.
	ReadFrom PVCRef `json:"readFrom"`
	// Target is the DR claim the mover fills, in the run's DR namespace.
	Target string `json:"target"`
	// Acknowledged is TransferInput.Acknowledged for this PVC.
	Acknowledged bool `json:"acknowledged,omitempty"`
	// AttachLimit is NodePlan.AttachLimit: no batch holding this claim
	// grows past it.
	AttachLimit int `json:"attachLimit,omitempty"`
	// MoverRoom is NodePlan.MoverRoom: no batch holding this claim grows
	// past it either.
	MoverRoom int `json:"moverRoom,omitempty"`
	// FollowsClaims says the sync can follow its claim in a batch's one
	// mover (FollowedMover.Claim, ActivityTransferBatchClaim). A sync of
	// older code cannot; a batch gets one mover only if all its members
	// can, so during a rolling upgrade no older sync is sent to a pod it
	// cannot follow.
	FollowsClaims bool `json:"followsClaims,omitempty"`
}

// BatchAssignment is the run's answer to a join.
type BatchAssignment struct {
	// Follow is the mover container to follow; nil when the sync takes its
	// own pods (a batch of one, or the batch's pods could not be made).
	Follow *FollowedMover `json:"follow,omitempty"`
	// Target and Credentials are the batch's mount pod target and Secret,
	// for TransferInput.
	Target      string `json:"target,omitempty"`
	Credentials string `json:"credentials,omitempty"`
	// Solo says why the sync takes its own pods.
	Solo string `json:"solo,omitempty"`
}

// BatchClaim is one PVC of a batch: the claim at its index in
// BatchPodsInput.Claims is served as kube.BatchModule(index) and filled by
// container kube.BatchMoverContainer(index).
type BatchClaim struct {
	// Source is the claim the mount pod serves (BatchJoin.ReadFrom.Name).
	Source string `json:"source"`
	// Target is the DR claim.
	Target       string `json:"target"`
	Acknowledged bool   `json:"acknowledged,omitempty"`
}

// BatchPodsInput is the pod pair of one batch: its mount pod on SourceNode
// and its sync pod on DestinationNode, both of the batch's operation Op.
type BatchPodsInput struct {
	Op                   Operation    `json:"op"`
	Source               ClusterRef   `json:"source"`
	SourceNamespace      string       `json:"sourceNamespace"`
	SourceNode           string       `json:"sourceNode"`
	Destination          ClusterRef   `json:"destination"`
	DestinationNamespace string       `json:"destinationNamespace"`
	DestinationNode      string       `json:"destinationNode"`
	Claims               []BatchClaim `json:"claims"`
	Image                Image        `json:"image"`
	AgentAddr            string       `json:"agentAddr"`
	// Credentials is the batch operation's Secret (EnsureCredentials).
	Credentials  string           `json:"credentials"`
	ClusterKey   SecretRef        `json:"clusterKey"`
	AgentHostKey SecretRef        `json:"agentHostKey"`
	Config       rsyncargs.Config `json:"config"`
	// Authority is the run the batch belongs to; every claim is checked
	// against its plan.
	Authority *PlanRequest `json:"authority"`
	// Held stages the batch: its mount pod starts, but carries
	// kube.RoleMountHeld, which no agent serves, and its sync pod carries
	// the scheduling gate kube.StagedGate, so it is not placed, until
	// ReleaseBatchPods relabels the one and ungates the other. The run
	// stages the next batch while the current one moves data.
	Held bool `json:"held,omitempty"`
	// OneMover asks for a sync pod whose one mover fills every claim
	// (kube.BatchMoversContainer); its members follow their claims with
	// ActivityTransferBatchClaim. Unset (a run of older code, or a member
	// that cannot follow claims), the pod has a mover container per claim.
	OneMover bool `json:"oneMover,omitempty"`
}

// ReleaseBatchInput names a staged batch's mount pod: the batch
// operation's, in the source namespace.
type ReleaseBatchInput struct {
	Op              Operation  `json:"op"`
	Source          ClusterRef `json:"source"`
	SourceNamespace string     `json:"sourceNamespace"`
	// Destination and DestinationNamespace hold the batch's sync pod,
	// whose scheduling gate the release removes; unset (runs from before
	// the gate), the sync pod was never gated.
	Destination          ClusterRef `json:"destination,omitempty"`
	DestinationNamespace string     `json:"destinationNamespace,omitempty"`
	// Pods is what made the batch's pods (EnsureBatchPods' input): the
	// release issues the gated sync pod a fresh certificate, since the one
	// issued with the pods expires (15 minutes) while the batch before it
	// may move data for hours. Unset (runs from before 2026-12-08), the
	// sync pod keeps the certificate it was made with.
	Pods *BatchPodsInput `json:"pods,omitempty"`
}

// BatchPods names a batch's pods once created (not yet running).
type BatchPods struct {
	MountPod string `json:"mountPod"`
	SyncPod  string `json:"syncPod"`
	// Target is the mount pod's rsync daemon as the agent reaches it
	// (kube.MountTarget).
	Target string `json:"target"`
}
