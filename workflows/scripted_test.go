package workflows_test

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// scriptedActivities stand in for every activity of a Replication run and
// of a restore, under their registered names, so tests run the real
// workflows on a real server without clusters; transfer decides how each
// PVC's data transfer goes.
func scriptedActivities(transfer func(context.Context, contract.TransferInput) (contract.TransferResult, error)) map[string]any {
	return map[string]any{
		"Transfer":           transfer,
		"TransferBatchClaim": transfer,
		"ResolveReplication": func(ctx context.Context, req contract.PlanRequest) (contract.ReplicationPlan, error) {
			ref := req.Replication
			// A run triggered "batch" syncs its two PVCs at once, in one
			// batch; one triggered "stage" syncs the four PVCs of namespace
			// "staged" two at a time, in two batches, the second staged.
			batch := req.Trigger == "batch" || req.Trigger == "stage"
			concurrent := int32(1)
			if batch {
				concurrent = 2
			}
			source, permits := "shop", int32(2)
			if req.Trigger == "stage" { // permits for a staged batch too
				source, permits = "staged", 4
			}
			spec := drv1.ReplicationSpec{SourceNamespace: source, PVCConfig: &drv1.PVCConfig{SyncData: true,
				DataSyncConfig: &drv1.DataSyncConfig{ConcurrentSyncs: concurrent}}}
			drv1.SetReplicationDefaults(&spec)
			settings := resolve.Settings(spec)
			dataSync, err := resolve.DataSync(spec.PVCConfig.DataSyncConfig)
			return contract.ReplicationPlan{Replication: ref, Generation: 1,
				Source:          contract.ClusterRef{Namespace: ref.Namespace, Name: "prod"},
				Destination:     contract.ClusterRef{Namespace: ref.Namespace, Name: "dr"},
				SourceNamespace: source, DestinationNamespace: cmp.Or(req.DrillNamespace, "shop"), Spec: settings, DataSync: dataSync,
				DataPlane: contract.DataPlane{Image: contract.Image{Reference: "dr-syncer/dataplane:dev"}, AgentPort: 2222,
					GlobalConcurrencyLimit: permits, Retry: settings.RetryConfig, BatchPods: batch}, Direction: req.Direction}, err
		},
		"LocateDRCopies": func(ctx context.Context, ref contract.ObjectRef) (contract.DRLocation, error) {
			return contract.DRLocation{Destination: contract.ClusterRef{Namespace: ref.Namespace, Name: "dr"}, Namespace: "shop"}, nil
		},
		"ListPVCs": func(ctx context.Context, in contract.ListPVCsInput) (contract.PVCList, error) {
			if in.Namespace == "staged" {
				return contract.PVCList{Names: []string{"data", "logs", "cache", "index"}}, nil
			}
			return contract.PVCList{Names: []string{"data", "logs"}}, nil
		},
		"Cleanup": func(ctx context.Context, in contract.CleanupInput) (contract.CleanupResult, error) {
			return contract.CleanupResult{}, nil
		},
		// Earlier runs left nothing; a sync's own end finds its pods, but
		// for the staged run's syncs, whose pods are their batches'.
		"FindWorkingObjects": func(ctx context.Context, in contract.CleanupInput) (contract.WorkingObjects, error) {
			if in.Leftovers || in.SourceNamespace == "staged" {
				return contract.WorkingObjects{}, nil
			}
			return contract.WorkingObjects{Objects: []string{"dr/pod/shop/x"}}, nil
		},
		"Discover": func(ctx context.Context, in contract.PVCRef) (contract.PVCInfo, error) {
			return contract.PVCInfo{Size: "1Gi"}, nil
		},
		"EnsureTargetPVC": func(ctx context.Context, in contract.TargetPVCInput) (contract.TargetPVC, error) {
			return contract.TargetPVC{Name: in.Source.Name, Namespace: in.DestinationNamespace}, nil
		},
		"ChooseNodes": func(ctx context.Context, in contract.ChooseNodesInput) (contract.NodePlan, error) {
			return contract.NodePlan{Source: kube.NodeChoice{Node: "prod-1"}, SourceAddress: "10.255.0.11", Target: kube.NodeChoice{Node: "dr-1"}, MoverRoom: 2}, nil
		},
		"EnsureCredentials": func(ctx context.Context, in contract.CredentialsInput) (contract.Credentials, error) {
			return contract.Credentials{Secret: in.Op.Name("creds")}, nil
		},
		"EnsureMountPod": func(ctx context.Context, in contract.MountPodInput) (contract.MountPod, error) {
			return contract.MountPod{Name: in.Op.Name("mount"), Target: "10.244.1.5:8873"}, nil
		},
		"MarkSynced":       func(ctx context.Context, in contract.MarkSyncedInput) error { return nil },
		"ReleaseBatchPods": func(ctx context.Context, in contract.ReleaseBatchInput) error { return nil },
		"EnsureBatchPods": func(ctx context.Context, in contract.BatchPodsInput) (contract.BatchPods, error) {
			return contract.BatchPods{MountPod: in.Op.Name("mount"), SyncPod: in.Op.Name("sync"), Target: "shop/" + in.Op.Name("mount") + ":8873"}, nil
		},
		// Point in time: unset copyMethod reads the live volume, as a
		// cluster without snapshots would have it.
		"PlanCopySource": func(ctx context.Context, in contract.CopySourceInput) (contract.CopySource, error) {
			if in.Method == contract.CopyAuto {
				return contract.CopySource{Method: contract.CopyDirect, Reason: "no VolumeSnapshotClass"}, nil
			}
			return contract.CopySource{Method: in.Method, SnapshotClass: "csi-hostpath"}, nil
		},
		"RunHook": func(ctx context.Context, in contract.HookInput) (contract.HookResult, error) {
			return contract.HookResult{Pods: []string{"db-0"}}, nil
		},
		"SnapshotSource": scriptedSnapshot, "WaitSnapshotReady": scriptedSnapshot,
		"CreateTemporaryPVC": func(ctx context.Context, in contract.TemporaryPVCInput) (contract.PVCRef, error) {
			return contract.PVCRef{Cluster: in.PVC.Cluster, Namespace: in.PVC.Namespace, Name: in.Op.Name("copy")}, nil
		},
		"TakeRestorePoint": func(ctx context.Context, in contract.RestorePointInput) (contract.RestorePoint, error) {
			return contract.RestorePoint{Name: in.PVC.Name + "-rp-1", PVC: in.PVC.Name, CopiedAt: in.CopiedAt}, nil
		},
		"PruneRestorePoints": func(ctx context.Context, in contract.PruneRestorePointsInput) ([]contract.RestorePoint, error) {
			return []contract.RestorePoint{{Name: in.PVC.Name + "-rp-1", PVC: in.PVC.Name}}, nil
		},
		// Restores: two restore points of each DR PVC; "missing" is none of them.
		"ListRestorePoints": func(ctx context.Context, in contract.ListRestorePointsInput) ([]contract.RestorePoint, error) {
			return scriptedRestorePoints(in.PVC), nil
		},
		"FindRestorePoint": func(ctx context.Context, in contract.FindRestorePointInput) (contract.RestorePoint, error) {
			for _, p := range scriptedRestorePoints(in.DR.Name) {
				if in.Point == contract.LatestRestorePoint || in.Point == p.Name {
					return p, nil
				}
			}
			return contract.RestorePoint{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("restore point %q of DR PVC %s not found", in.Point, in.DR), contract.ErrTypeRestorePointNotFound, nil)
		},
		"CheckRestoreTarget": func(ctx context.Context, in contract.RestoreTargetInput) error { return nil },
		"ShareRestorePoint": func(ctx context.Context, in contract.ShareRestorePointInput) (contract.Snapshot, error) {
			return contract.Snapshot{Name: in.Op.Name("restore-share"), Namespace: in.ToNamespace, RestoreSize: "1Gi"}, nil
		},
		"RestoreFromPoint": func(ctx context.Context, in contract.RestoreFromPointInput) (contract.RestoredPVC, error) {
			return contract.RestoredPVC{PVC: in.Target, StorageClass: "csi-hostpath", Size: in.Point.Size, Bound: true}, nil
		},
		"CleanupRestore": func(ctx context.Context, in contract.CleanupRestoreInput) (contract.CleanupResult, error) {
			return contract.CleanupResult{}, nil
		},
		"SelectKinds": func(ctx context.Context, plan contract.ReplicationPlan) (contract.KindSelection, error) {
			return contract.KindSelection{Stages: [][]resources.Kind{{{Group: "", Version: "v1", Resource: "configmaps", Kind: "ConfigMap"}}}}, nil
		},
		"EnsureNamespace": func(ctx context.Context, plan contract.ReplicationPlan) (contract.NamespaceResult, error) {
			return contract.NamespaceResult{Name: plan.DestinationNamespace}, nil
		},
		"ReplicateKind": func(ctx context.Context, in contract.ReplicateKindInput) (contract.KindResult, error) {
			// One owned DR object lost its source: within the deletion guard's limit.
			return contract.KindResult{Kind: in.Kind.Kind, Objects: []contract.ObjectStatus{{Kind: in.Kind.Kind, Name: "settings", State: "Synced"}},
				Writes: 1, Owned: 2, Prune: []string{"retired"}}, nil
		},
		"PruneObjects": func(ctx context.Context, in contract.PruneInput) (contract.KindResult, error) {
			res := contract.KindResult{Kind: in.Kind.Kind, Writes: len(in.Names)}
			for _, n := range in.Names {
				res.Objects = append(res.Objects, contract.ObjectStatus{Kind: in.Kind.Kind, Name: n, State: "Synced", Action: "Prune"})
			}
			return res, nil
		},
	}
}

func scriptedSnapshot(ctx context.Context, in contract.SourceSnapshotInput) (contract.Snapshot, error) {
	return contract.Snapshot{Name: in.Op.Name("snapshot"), Namespace: in.PVC.Namespace,
		TakenAt: time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC), RestoreSize: "1Gi"}, nil
}

// scriptedRestorePoints are a DR PVC's restore points, newest first.
func scriptedRestorePoints(pvc string) []contract.RestorePoint {
	var points []contract.RestorePoint
	for _, day := range []int{5, 4} {
		at := time.Date(2026, 12, day, 21, 0, 0, 0, time.UTC)
		points = append(points, contract.RestorePoint{Name: pvc + "-rp-" + at.Format("20060102-150405"), PVC: pvc, CopiedAt: at, Size: "1Gi", Run: "run-1"})
	}
	return points
}
