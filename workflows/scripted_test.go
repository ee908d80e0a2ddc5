package workflows_test

import (
	"context"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// scriptedActivities stand in for every activity of a Replication run, under
// their registered names, so tests run the real workflows on a real server
// without clusters; transfer decides how each PVC's data transfer goes.
func scriptedActivities(transfer func(context.Context, activities.TransferInput) (activities.TransferResult, error)) map[string]any {
	return map[string]any{
		"Transfer": transfer,
		"ResolveReplication": func(ctx context.Context, ref activities.ObjectRef) (activities.ReplicationPlan, error) {
			spec := drv1.ReplicationSpec{SourceNamespace: "shop", PVCConfig: &drv1.PVCConfig{SyncData: true,
				DataSyncConfig: &drv1.DataSyncConfig{ConcurrentSyncs: 1}}}
			drv1.SetReplicationDefaults(&spec)
			return activities.ReplicationPlan{Replication: ref, Generation: 1,
				Source:          activities.ClusterRef{Namespace: ref.Namespace, Name: "prod"},
				Destination:     activities.ClusterRef{Namespace: ref.Namespace, Name: "dr"},
				SourceNamespace: "shop", DestinationNamespace: "shop", Spec: spec,
				DataPlane: activities.DataPlane{Image: activities.Image{Reference: "dr-syncer/dataplane:dev"}, AgentPort: 2222, GlobalConcurrencyLimit: 2}}, nil
		},
		"ListPVCs": func(ctx context.Context, in activities.ListPVCsInput) (activities.PVCList, error) {
			return activities.PVCList{Names: []string{"data", "logs"}}, nil
		},
		"Cleanup": func(ctx context.Context, in activities.CleanupInput) (activities.CleanupResult, error) {
			return activities.CleanupResult{}, nil
		},
		"Discover": func(ctx context.Context, in activities.PVCRef) (activities.PVCInfo, error) {
			return activities.PVCInfo{Size: "1Gi"}, nil
		},
		"EnsureTargetPVC": func(ctx context.Context, in activities.TargetPVCInput) (activities.TargetPVC, error) {
			return activities.TargetPVC{Name: in.Source.Name, Namespace: in.DestinationNamespace}, nil
		},
		"ChooseNodes": func(ctx context.Context, in activities.ChooseNodesInput) (activities.NodePlan, error) {
			return activities.NodePlan{Source: kube.NodeChoice{Node: "prod-1"}, SourceAddress: "10.255.0.11", Target: kube.NodeChoice{Node: "dr-1"}}, nil
		},
		"EnsureCredentials": func(ctx context.Context, in activities.CredentialsInput) (activities.Credentials, error) {
			return activities.Credentials{Secret: in.Op.Name("creds")}, nil
		},
		"EnsureMountPod": func(ctx context.Context, in activities.MountPodInput) (activities.MountPod, error) {
			return activities.MountPod{Name: in.Op.Name("mount"), Target: "10.244.1.5:8873"}, nil
		},
		"MarkSynced": func(ctx context.Context, in activities.MarkSyncedInput) error { return nil },
		"SelectKinds": func(ctx context.Context, plan activities.ReplicationPlan) (activities.KindSelection, error) {
			return activities.KindSelection{Stages: [][]resources.Kind{{{Group: "", Version: "v1", Resource: "configmaps", Kind: "ConfigMap"}}}}, nil
		},
		"EnsureNamespace": func(ctx context.Context, plan activities.ReplicationPlan) (activities.NamespaceResult, error) {
			return activities.NamespaceResult{Name: plan.DestinationNamespace}, nil
		},
		"ReplicateKind": func(ctx context.Context, in activities.ReplicateKindInput) (activities.KindResult, error) {
			// One owned DR object lost its source: within the deletion guard's limit.
			return activities.KindResult{Kind: in.Kind.Kind, Objects: []activities.ObjectStatus{{Kind: in.Kind.Kind, Name: "settings", State: "Synced"}},
				Writes: 1, Owned: 2, Prune: []string{"retired"}}, nil
		},
		"PruneObjects": func(ctx context.Context, in activities.PruneInput) (activities.KindResult, error) {
			res := activities.KindResult{Kind: in.Kind.Kind, Writes: len(in.Names)}
			for _, n := range in.Names {
				res.Objects = append(res.Objects, activities.ObjectStatus{Kind: in.Kind.Kind, Name: n, State: "Synced", Action: "Prune"})
			}
			return res, nil
		},
	}
}
