package kube

import (
	"path"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A batch is up to N PVCs of one run that share a (source node, DR node)
// pair (docs/design-batched-pvc-sync.md): one mount pod serves all their
// source claims and one sync pod fills all their DR claims. A claim is
// known by its index in the batch; the names below derive from it, so the
// mount pod, the sync pod and whoever reads the movers' results agree
// without passing names around.

// BatchModule is the rsync module that serves the batch's source claim at
// index, and the one that claim's mover asks for.
func BatchModule(index int) string { return "claim-" + strconv.Itoa(index) }

// BatchDataPath is where the batch mount pod mounts the source claim at
// index: a directory of its own under DataPath, which no other module's
// path contains.
func BatchDataPath(index int) string { return path.Join(DataPath, strconv.Itoa(index)) }

// BatchMoverContainer is the sync pod's container that fills the DR claim
// at index; its logs and termination message are that claim's progress
// and summary.
func BatchMoverContainer(index int) string { return "mover-" + strconv.Itoa(index) }

// RoleMountHeld is the dr-syncer.io/role of a staged batch's mount pod
// (contract.BatchPodsInput.Held): no agent serves it, so the batch's
// movers wait until the run relabels it "mount" (ReleaseBatchPods).
const RoleMountHeld = "mount-held"

// StagedTargetWait is how long a staged batch's movers wait for their
// mount pod (the mover's --target-wait). The run stages the next batch
// while the current one moves data, for as long as that takes, so the
// wait is not the pod start-up bound of mover.DefaultTargetWait. It only
// has to outlast the run: the run releases the batch or deletes its pods,
// and a run that ended without either leaves pods that its members' next
// syncs delete (MemberSelector), so a mover left waiting is not
// left for good.
const StagedTargetWait = 24 * time.Hour

// StagedGate is the scheduling gate of a staged batch's sync pod: the
// scheduler leaves the pod unplaced, so it holds none of the DR node's
// CPU, memory or volume attachments, until ReleaseBatchPods removes the
// gate. Placed at once, a staged batch's movers could take the room that
// the pods of the syncs moving data still need, and then wait for those
// syncs, which cannot start: 200 PVCs at 20 at once stalled ten minutes
// on this, until the agent's idle timeout ended the staged movers.
const StagedGate = "dr-syncer.io/staged"

// batchVolume is the pod volume of the claim at index.
func batchVolume(index int) string { return "data-" + strconv.Itoa(index) }

// BatchMountPodOptions describe a mount pod that serves every source claim
// of a batch. The embedded options mean what they mean for MountPod, but
// for their Claim, which is not used.
type BatchMountPodOptions struct {
	MountPodOptions
	// Claims are the batch's source claims, at least one; the claim at
	// index i is mounted read-only at BatchDataPath(i) and served as
	// BatchModule(i).
	Claims []string
}

// BatchMountPod is MountPod for a batch: one rsync daemon, one module per
// claim, all behind the same per-operation credentials and allow-list.
func BatchMountPod(o BatchMountPodOptions) *corev1.Pod {
	serveArgs := make([]string, 0, 2*len(o.Claims))
	claims := make([]claimMount, 0, len(o.Claims))
	for i, claim := range o.Claims {
		serveArgs = append(serveArgs, "--serve", BatchModule(i)+"="+BatchDataPath(i))
		claims = append(claims, claimMount{volume: batchVolume(i), claim: claim, path: BatchDataPath(i)})
	}
	return mountPod(o.MountPodOptions, serveArgs, claims...)
}

// SyncPodClaim is one DR claim of a batch sync pod, with what is decided
// for that claim alone.
type SyncPodClaim struct {
	// Claim is the DR claim the mover fills.
	Claim string
	// AcceptSourceChange is SyncPodOptions.AcceptSourceChange for this
	// claim: a person accepts one PVC's change, not the batch's.
	AcceptSourceChange bool
}

// BatchSyncPodOptions describe a sync pod that fills every DR claim of a
// batch. The embedded options mean what they mean for SyncPod, but for
// Claim and AcceptSourceChange, which Claims gives per claim.
type BatchSyncPodOptions struct {
	SyncPodOptions
	// Claims are the batch's DR claims, at least one, in the order of the
	// mount pod's: the claim at index i is filled from BatchModule(i) by
	// container BatchMoverContainer(i).
	Claims []SyncPodClaim
	// TargetWait, when set, is every mover's --target-wait: StagedTargetWait
	// for a staged batch, whose mount pod is held. Unset, the movers wait
	// the mover's default.
	TargetWait time.Duration
	// Gated: the pod waits for StagedGate to be removed before the
	// scheduler places it (a staged batch).
	Gated bool
}

// BatchSyncPod is SyncPod for a batch: one mover container per claim, each
// with its own claim at DataPath, its own module and its own termination
// message, so every claim's progress, guard and summary stay its own.
// Kubernetes starts the containers together; each one requests
// SyncPodOptions.Resources.
func BatchSyncPod(o BatchSyncPodOptions) *corev1.Pod {
	movers := make([]corev1.Container, 0, len(o.Claims))
	volumes := make([]corev1.Volume, 0, len(o.Claims))
	for i, c := range o.Claims {
		mover := o.SyncPodOptions
		mover.AcceptSourceChange = c.AcceptSourceChange
		container := moverContainer(mover, BatchMoverContainer(i), batchVolume(i),
			corev1.EnvVar{Name: "DRSYNCER_RSYNC_MODULE", Value: BatchModule(i)})
		if o.TargetWait > 0 {
			container.Command = append(container.Command, "--target-wait", o.TargetWait.String())
		}
		movers = append(movers, container)
		volumes = append(volumes, claimVolume(batchVolume(i), c.Claim, false))
	}
	pod := syncPod(o.SyncPodOptions, movers, volumes...)
	if o.Gated {
		pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: StagedGate}}
	}
	return pod
}
