package pvcdata

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A batch's pods (docs/design-batched-pvc-sync.md) are the solo path's
// pods with one module and one mover per claim. They are built from the
// options the solo steps build for each claim (batchMountInput,
// batchTransferInput), so a setting added to the solo pods reaches the
// batch's too, and each claim is checked as its solo steps check it.

// EnsureBatchPods creates (or finds, by name) the pod pair of one batch of
// PVC syncs: the mount pod on the source node, serving every source claim,
// and the sync pod on the DR node, with one mover container per DR claim,
// after issuing the sync pod's certificate. It does not wait for the pods
// to run: each mover waits for its target, and each member's Transfer
// follows its own container (TransferInput.Follow).
//
// A held batch (in.Held) is staged: its mount pod carries
// kube.RoleMountHeld, which no agent serves, and its sync pod carries
// kube.StagedGate, so it is not placed on the DR node, until
// ReleaseBatchPods relabels the one and ungates the other. The mount pod
// starts meanwhile; its movers then wait up to kube.StagedTargetWait.
// A pod is re-found by name and run alone (activities.PodReusable), so a
// retry finds a held batch's pods, and a call after the release finds the
// released mount pod and leaves its label as it is.
func (a *PVCActivities) EnsureBatchPods(ctx context.Context, in contract.BatchPodsInput) (contract.BatchPods, error) {
	if err := a.checkBatchPods(ctx, in); err != nil {
		return contract.BatchPods{}, err
	}
	src, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return contract.BatchPods{}, activities.Classify(err)
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return contract.BatchPods{}, activities.Classify(err)
	}
	mount, err := a.batchMountPod(ctx, src, in)
	if err != nil {
		return contract.BatchPods{}, err
	}
	if _, err := activities.CreateOrGetPod(ctx, src, mount); err != nil {
		return contract.BatchPods{}, fmt.Errorf("batch mount pod: %w", err)
	}
	target := batchTarget(in)
	sync, err := a.batchSyncPod(in, target)
	if err != nil {
		return contract.BatchPods{}, err
	}
	// As Transfer does for its own sync pod: a new pod gets a fresh
	// certificate, a pod of this run that is re-found keeps its own.
	if err := a.syncIdentity(ctx, dst, batchIdentity(in, target), sync); err != nil {
		return contract.BatchPods{}, err
	}
	if _, err := activities.CreateOrGetPod(ctx, dst, sync); err != nil {
		return contract.BatchPods{}, fmt.Errorf("batch sync pod: %w", err)
	}
	return contract.BatchPods{MountPod: mount.Name, SyncPod: sync.Name, Target: target}, nil
}

// batchMountPod is the mount pod of in: claim 0's solo mount pod (the
// batch shares its name, node, image, credentials and allow-list), serving
// every claim.
func (a *PVCActivities) batchMountPod(ctx context.Context, cs kubernetes.Interface, in contract.BatchPodsInput) (*corev1.Pod, error) {
	opts, err := a.mountPodOptions(ctx, cs, batchMountInput(in, 0))
	if err != nil {
		return nil, err
	}
	opts.Claim = "" // BatchMountPodOptions.Claims has them all
	if in.Held {
		opts.Labels[kube.LabelRole] = kube.RoleMountHeld
	}
	claims := make([]string, len(in.Claims))
	for i, c := range in.Claims {
		claims[i] = c.Source
	}
	return kube.BatchMountPod(kube.BatchMountPodOptions{MountPodOptions: opts, Claims: claims}), nil
}

// batchSyncPod is the sync pod of in: claim 0's solo sync pod, with one
// mover per claim that carries the claim's own accepted change; a held
// batch's pod is gated, and its movers wait kube.StagedTargetWait for
// their mount pod.
func (a *PVCActivities) batchSyncPod(in contract.BatchPodsInput, target string) (*corev1.Pod, error) {
	opts, err := a.syncPodOptions(batchTransferInput(in, 0, target))
	if err != nil {
		return nil, err
	}
	// Per claim, in BatchSyncPodOptions.Claims.
	opts.Claim, opts.AcceptSourceChange = "", false
	claims := make([]kube.SyncPodClaim, len(in.Claims))
	for i, c := range in.Claims {
		claims[i] = kube.SyncPodClaim{Claim: c.Target, AcceptSourceChange: c.Acknowledged}
	}
	sync := kube.BatchSyncPodOptions{SyncPodOptions: opts, Claims: claims, OneMover: in.OneMover}
	if in.Held {
		sync.TargetWait, sync.Gated = kube.StagedTargetWait, true
	}
	return kube.BatchSyncPod(sync), nil
}

// batchTarget is the batch mount pod's rsync daemon as the agent reaches
// it, named before the pod has an IP, as a solo sync names its own.
func batchTarget(in contract.BatchPodsInput) string {
	return kube.MountTarget(in.SourceNamespace, in.Op.Name("mount"))
}

// batchMountInput is the solo EnsureMountPod input of claim i: what its
// own mount pod would have been.
func batchMountInput(in contract.BatchPodsInput, i int) contract.MountPodInput {
	return contract.MountPodInput{
		Op:   in.Op,
		PVC:  contract.PVCRef{Cluster: in.Source, Namespace: in.SourceNamespace, Name: in.Claims[i].Source},
		Node: in.SourceNode, Image: in.Image, Credentials: in.Credentials, Authority: in.Authority,
	}
}

// batchTransferInput is the solo Transfer input of claim i reading from
// target: what its own sync pod would have been.
func batchTransferInput(in contract.BatchPodsInput, i int, target string) contract.TransferInput {
	clusterKey, agentHostKey := in.ClusterKey, in.AgentHostKey
	return contract.TransferInput{
		Op:   in.Op,
		PVC:  contract.PVCRef{Cluster: in.Destination, Namespace: in.DestinationNamespace, Name: in.Claims[i].Target},
		Node: in.DestinationNode, Image: in.Image, AgentAddr: in.AgentAddr, Target: target, Credentials: in.Credentials,
		ClusterKey: &clusterKey, AgentHostKey: &agentHostKey, Config: in.Config,
		Acknowledged: in.Claims[i].Acknowledged, Authority: in.Authority,
	}
}

// batchIdentity is the sync pod certificate's request: one for all the
// batch's movers, which share the pod, its Secret and the target. Its key
// ID names every DR claim, so the agent's log says whose data it served.
func batchIdentity(in contract.BatchPodsInput, target string) syncIdentityInput {
	claims := make([]string, len(in.Claims))
	for i, c := range in.Claims {
		claims[i] = c.Target
	}
	id := transferIdentity(batchTransferInput(in, 0, target))
	id.keyID = fmt.Sprintf("pvcsync %s/%s %s", in.DestinationNamespace, strings.Join(claims, ","), in.Op.WorkflowID)
	id.what = fmt.Sprintf("batch %s of %s", in.Op.WorkflowID, strings.Join(claims, ", "))
	return id
}
