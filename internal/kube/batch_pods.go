package kube

import (
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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

// BatchMoverContainer is the container that fills the DR claim at index
// in a sync pod with a mover per claim (BatchSyncPodOptions.OneMover
// unset, as runs of older code ask).
func BatchMoverContainer(index int) string { return moverPrefix + strconv.Itoa(index) }

const moverPrefix = "mover-"

// BatchMoverIndex is the claim index that BatchMoverContainer names.
func BatchMoverIndex(container string) (int, bool) {
	rest, ok := strings.CutPrefix(container, moverPrefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || BatchMoverContainer(i) != container {
		return 0, false
	}
	return i, true
}

// BatchMoversContainer is the one container of a batch sync pod
// (BatchSyncPodOptions.OneMover): a mover that fills every DR claim at
// once, each from BatchModule(i) into BatchDataPath(i). Its log is every
// claim's progress and summary, each line tagged with the claim's module.
const BatchMoversContainer = "movers"

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
	// mount pod's: the claim at index i is filled from BatchModule(i), into
	// BatchDataPath(i) by BatchMoversContainer (OneMover) or at DataPath
	// by container BatchMoverContainer(i).
	Claims []SyncPodClaim
	// TargetWait, when set, is the mover's --target-wait: StagedTargetWait
	// for a staged batch, whose mount pod is held. Unset, the movers wait
	// the mover's default.
	TargetWait time.Duration
	// Gated: the pod waits for StagedGate to be removed before the
	// scheduler places it (a staged batch).
	Gated bool
	// OneMover: one container fills every claim (BatchMoversContainer);
	// unset, a container per claim (BatchMoverContainer) does.
	OneMover bool
}

// BatchSyncPod is SyncPod for a batch. With OneMover, one mover container
// (BatchMoversContainer) fills every claim, each mounted at its own
// BatchDataPath, pulled from its own module, with its own accepted change,
// guard and summary. One container rather than one per claim: the kubelet
// starts a pod's containers one after another, about a quarter of a
// second each in the lab, so the last of 20 movers started seconds after
// the first. It requests SyncPodOptions.Resources once per claim, what a
// mover per claim asked, so the DR node's mover room (counted per claim)
// still holds.
func BatchSyncPod(o BatchSyncPodOptions) *corev1.Pod {
	var pod *corev1.Pod
	if o.OneMover {
		pod = oneMoverSyncPod(o)
	} else {
		pod = moverPerClaimSyncPod(o)
	}
	if o.Gated {
		pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: StagedGate}}
	}
	return pod
}

func oneMoverSyncPod(o BatchSyncPodOptions) *corev1.Pod {
	movers := moverContainer(o.SyncPodOptions, BatchMoversContainer)
	volumes := make([]corev1.Volume, 0, len(o.Claims))
	for i, c := range o.Claims {
		movers.Command = append(movers.Command, "--claim", BatchModule(i)+"="+BatchDataPath(i))
		if c.AcceptSourceChange {
			movers.Command = append(movers.Command, "--accept-source-change-for", BatchModule(i))
		}
		movers.VolumeMounts = append(movers.VolumeMounts, corev1.VolumeMount{Name: batchVolume(i), MountPath: BatchDataPath(i)})
		volumes = append(volumes, claimVolume(batchVolume(i), c.Claim, false))
	}
	if o.TargetWait > 0 {
		movers.Command = append(movers.Command, "--target-wait", o.TargetWait.String())
	}
	movers.Resources = timesResources(movers.Resources, int64(len(o.Claims)))
	return syncPod(o.SyncPodOptions, []corev1.Container{movers}, volumes...)
}

// timesResources is r asked n times over: CPU in millicores, the rest in
// their own units.
func timesResources(r corev1.ResourceRequirements, n int64) corev1.ResourceRequirements {
	times := func(l corev1.ResourceList) corev1.ResourceList {
		if l == nil {
			return nil
		}
		out := corev1.ResourceList{}
		for name, q := range l {
			if name == corev1.ResourceCPU {
				out[name] = *resource.NewMilliQuantity(q.MilliValue()*n, q.Format)
			} else {
				out[name] = *resource.NewQuantity(q.Value()*n, q.Format)
			}
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: times(r.Requests), Limits: times(r.Limits)}
}

// moverPerClaimSyncPod is the batch sync pod that runs of older code ask
// for: a mover container per claim, each with its own claim at DataPath
// and its own module, so that their Transfers, which follow
// BatchMoverContainer(i), find it during a rolling upgrade.
func moverPerClaimSyncPod(o BatchSyncPodOptions) *corev1.Pod {
	movers := make([]corev1.Container, 0, len(o.Claims))
	volumes := make([]corev1.Volume, 0, len(o.Claims))
	for i, c := range o.Claims {
		opts := o.SyncPodOptions
		opts.AcceptSourceChange = c.AcceptSourceChange
		mover := moverContainer(opts, BatchMoverContainer(i))
		mover.Command = append(mover.Command, "--dest", DataPath)
		if o.TargetWait > 0 {
			mover.Command = append(mover.Command, "--target-wait", o.TargetWait.String())
		}
		mover.Env = append(mover.Env, corev1.EnvVar{Name: "DRSYNCER_RSYNC_MODULE", Value: BatchModule(i)})
		mover.VolumeMounts = append([]corev1.VolumeMount{{Name: batchVolume(i), MountPath: DataPath}}, mover.VolumeMounts...)
		movers = append(movers, mover)
		volumes = append(volumes, claimVolume(batchVolume(i), c.Claim, false))
	}
	return syncPod(o.SyncPodOptions, movers, volumes...)
}
