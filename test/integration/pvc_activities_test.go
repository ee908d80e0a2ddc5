package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The PVC steps against real source and DR API servers. The steps run in
// Temporal's activity test environment; everything they touch is real.
func TestPVCActivities(t *testing.T) {
	steps := newPVCSteps(t)
	env, acts, source, dr := steps.env, steps.acts, steps.source, steps.dr
	ctx := context.Background()
	run := func(t *testing.T, fn any, in any, out any) error { return runActivity(t, acts, fn, in, out) }

	t.Run("target PVC maps class and modes, keeps labels, annotates its source", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.Source.Client, "shop")
		create(t, env.DR.Client, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "example.com/fast"})
		create(t, env.Source.Client, pvc("shop", "data", "standard", "1Gi", corev1.ReadWriteOnce, map[string]string{
			"app": "shop", "pv.kubernetes.io/bind-completed": "yes", "backup/tier": "gold",
		}))
		var got contract.TargetPVC
		require.NoError(t, run(t, acts.EnsureTargetPVC, contract.TargetPVCInput{
			Source:      contract.PVCRef{Cluster: source, Namespace: "shop", Name: "data"},
			Destination: dr, DestinationNamespace: "shop-dr", CreateNamespace: true,
			StorageClassMappings: map[string]string{"standard": "fast"},
			AccessModeMappings:   map[string]string{"ReadWriteOnce": "ReadWriteMany"},
			Replication:          "ops/shop",
		}, &got))
		assert.Equal(t, contract.TargetPVC{Name: "data", Namespace: "shop-dr", StorageClass: "fast",
			AccessModes: []string{"ReadWriteMany"}, Size: "1Gi", Created: true}, got)

		var target corev1.PersistentVolumeClaim
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop-dr", Name: "data"}, &target))
		assert.Equal(t, "shop", target.Labels["app"])
		assert.Equal(t, kube.ManagedBy, target.Labels[kube.LabelCopy])
		assert.NotContains(t, target.Labels, kube.LabelManagedBy, "the source's labels exactly, plus dr-syncer.io/ marks")
		var sourceClaim corev1.PersistentVolumeClaim
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "data"}, &sourceClaim))
		assert.Equal(t, string(sourceClaim.UID), target.Annotations[kube.AnnotationSourceUID], "the copy records which claim it copies")
		assert.Equal(t, "ops/shop", target.Annotations[kube.AnnotationReplication])
		assert.Equal(t, "gold", target.Annotations["backup/tier"])
		assert.NotContains(t, target.Annotations, "pv.kubernetes.io/bind-completed", "the source cluster's binding must not travel")
		for key, want := range map[string]string{
			kube.AnnotationSourceCluster: "source", kube.AnnotationSourceNamespace: "shop", kube.AnnotationSourcePVC: "data",
			kube.AnnotationSourceSize: "1Gi", kube.AnnotationSourceStorageClass: "standard",
		} {
			assert.Equal(t, want, target.Annotations[key], key)
		}

		var again contract.TargetPVC
		require.NoError(t, run(t, acts.EnsureTargetPVC, contract.TargetPVCInput{
			Source:      contract.PVCRef{Cluster: source, Namespace: "shop", Name: "data"},
			Destination: dr, DestinationNamespace: "shop-dr", StorageClassMappings: map[string]string{"standard": "fast"},
			Replication: "ops/shop",
		}, &again))
		assert.False(t, again.Created, "a second run finds the PVC")
	})

	t.Run("target PVC grows with the source and never shrinks", func(t *testing.T) {
		create(t, env.DR.Client, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "expandable"},
			Provisioner: "example.com/x", AllowVolumeExpansion: ptr(true)})
		testenv.EnsureNamespace(t, env.DR.Client, "grow")
		testenv.EnsureNamespace(t, env.Source.Client, "grow")
		for name, sizes := range map[string][2]string{"bigger": {"5Gi", "2Gi"}, "smaller": {"1Gi", "3Gi"}} {
			create(t, env.Source.Client, pvc("grow", name, "expandable", sizes[0], corev1.ReadWriteOnce, nil))
			// A copy an earlier version made: the old mark, the source named, no identity yet.
			existing := pvc("grow", name, "expandable", sizes[1], corev1.ReadWriteOnce, map[string]string{
				kube.AnnotationSourceCluster: "source", kube.AnnotationSourceNamespace: "grow", kube.AnnotationSourcePVC: name})
			existing.Labels[kube.LabelManagedBy] = kube.ManagedBy
			create(t, env.DR.Client, existing)
			existing.Status.Phase = corev1.ClaimBound // only a bound claim may be resized
			require.NoError(t, env.DR.Client.Status().Update(ctx, existing))
		}
		var bigger, smaller contract.TargetPVC
		in := contract.TargetPVCInput{Source: contract.PVCRef{Cluster: source, Namespace: "grow", Name: "bigger"}, Destination: dr, DestinationNamespace: "grow"}
		require.NoError(t, run(t, acts.EnsureTargetPVC, in, &bigger))
		assert.Equal(t, "5Gi", bigger.Size)
		assert.True(t, bigger.Grown)
		in.Source.Name = "smaller"
		require.NoError(t, run(t, acts.EnsureTargetPVC, in, &smaller))
		assert.Equal(t, "3Gi", smaller.Size, "DR data is never shrunk")
		assert.False(t, smaller.Grown)
	})

	t.Run("a missing DR storage class is a non-retryable error naming it", func(t *testing.T) {
		create(t, env.Source.Client, pvc("shop", "logs", "slow", "1Gi", corev1.ReadWriteOnce, nil))
		err := run(t, acts.EnsureTargetPVC, contract.TargetPVCInput{
			Source: contract.PVCRef{Cluster: source, Namespace: "shop", Name: "logs"}, Destination: dr, DestinationNamespace: "shop-dr",
		}, nil)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeStorageClassNotFound, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Error(), `storage class "slow"`)
		assert.Contains(t, appErr.Error(), "storageClassMappings")
		var none corev1.PersistentVolumeClaim
		assert.Error(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop-dr", Name: "logs"}, &none), "nothing is created")
	})

	t.Run("a missing DR namespace is not created unless allowed", func(t *testing.T) {
		err := run(t, acts.EnsureTargetPVC, contract.TargetPVCInput{
			Source: contract.PVCRef{Cluster: source, Namespace: "shop", Name: "data"}, Destination: dr, DestinationNamespace: "nowhere",
			StorageClassMappings: map[string]string{"standard": "fast"},
		}, nil)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeNamespaceNotFound, appErr.Type())
		assert.Contains(t, appErr.Error(), "namespaceConfig.createNamespace")
	})

	t.Run("credentials land in both clusters and a retry reuses them", func(t *testing.T) {
		in := contract.CredentialsInput{
			Op: contract.Operation{WorkflowID: "pvc-sync/source/shop/data", RunID: "run-1"}, Source: source, SourceNamespace: "shop",
			Destination: dr, DestinationNamespace: "shop-dr",
			ClusterKey:   steps.clusterKey,
			AgentHostKey: steps.hostKey,
			Authority:    steps.authority,
		}
		var first, second contract.Credentials
		require.NoError(t, run(t, acts.EnsureCredentials, in, &first))
		var src1, dst1 corev1.Secret
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: first.Secret}, &src1))
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop-dr", Name: first.Secret}, &dst1))
		assert.NotContains(t, src1.Data, kube.SecretKeyClusterKey, "the private key never goes to the source cluster")
		assert.Equal(t, src1.Data[kube.SecretKeyRsyncPassword], dst1.Data[kube.SecretKeyRsyncPassword])
		assert.Len(t, src1.Data[kube.SecretKeyRsyncPassword], 43)
		assertNoClusterPairKey(t, dst1.Data, steps.pair)
		assert.Equal(t, steps.hostPub, dst1.Data[kube.SecretKeyAgentHostKey], "the agent host key to pin")
		assert.Equal(t, kube.OperationID(in.Op.WorkflowID), src1.Labels[kube.LabelOperation])

		require.NoError(t, run(t, acts.EnsureCredentials, in, &second))
		var src2 corev1.Secret
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: second.Secret}, &src2))
		assert.Equal(t, src1.Data, src2.Data, "a retry keeps the credentials the mount pod already has")

		// The Replication's own key Secret gone: a user must fix that.
		var key corev1.Secret
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: in.ClusterKey.Namespace, Name: in.ClusterKey.Name}, &key))
		require.NoError(t, env.DR.Client.Delete(ctx, &key))
		t.Cleanup(func() { key.ResourceVersion = ""; create(t, env.DR.Client, &key) })
		err := run(t, acts.EnsureCredentials, in, nil)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeInvalidSpec, appErr.Type())
	})

	t.Run("mount pod mounts the PVC read-only on the chosen node and a retry finds it", func(t *testing.T) {
		op := contract.Operation{WorkflowID: "pvc-sync/source/shop/data", RunID: "run-1"}
		createAgent(t, env.Source.Client, "prod-1", "10.244.1.2")
		in := contract.MountPodInput{Op: op, PVC: contract.PVCRef{Cluster: source, Namespace: "shop", Name: "data"},
			Node: "prod-1", Image: planImage, Credentials: "drs-creds-x", Authority: steps.authority}
		done := make(chan error, 1)
		var mount contract.MountPod
		go func() { done <- run(t, acts.EnsureMountPod, in, &mount) }()

		var pod corev1.Pod
		require.Eventually(t, func() bool {
			return env.Source.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: op.Name("mount")}, &pod) == nil
		}, 20*time.Second, 100*time.Millisecond)
		assert.Equal(t, "prod-1", pod.Spec.NodeName)
		require.Len(t, pod.Spec.Volumes, 2)
		assert.Equal(t, "data", pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
		assert.True(t, pod.Spec.Volumes[0].PersistentVolumeClaim.ReadOnly)
		assert.True(t, pod.Spec.Containers[0].VolumeMounts[0].ReadOnly)
		assert.Equal(t, op.Labels("mount"), pod.Labels)
		assert.Contains(t, pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "DRSYNCER_HOSTS_ALLOW", Value: "10.244.1.2"},
			"the rsync daemon admits only the agent on its node")
		assert.Equal(t, []corev1.Capability{"ALL"}, pod.Spec.Containers[0].SecurityContext.Capabilities.Drop)

		// Play the kubelet: the pod becomes ready with an IP.
		pod.Status.PodIP = "10.244.1.5"
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		require.NoError(t, env.Source.Client.Status().Update(ctx, &pod))
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("EnsureMountPod did not notice the ready pod")
		}
		assert.Equal(t, contract.MountPod{Name: op.Name("mount"), Target: "10.244.1.5:8873"}, mount)

		var again contract.MountPod
		require.NoError(t, run(t, acts.EnsureMountPod, in, &again))
		var after corev1.Pod
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: op.Name("mount")}, &after))
		assert.Equal(t, pod.UID, after.UID, "a retry re-attaches instead of creating another pod")
	})

	t.Run("cleanup deletes the operation's objects in both clusters and nothing else", func(t *testing.T) {
		op := contract.Operation{WorkflowID: "pvc-sync/source/shop/cleanme", RunID: "run-9"}
		for _, c := range []struct {
			cl client.Client
			ns string
		}{{env.Source.Client, "shop"}, {env.DR.Client, "shop-dr"}} {
			create(t, c.cl, unscheduledPod(c.ns, op.Name("mount"), op.Labels("mount")))
			create(t, c.cl, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: op.Name("creds"), Labels: op.Labels("credentials")}})
			create(t, c.cl, unscheduledPod(c.ns, "users-app", map[string]string{"app": "shop"}))
			// A temporary claim (Snapshot and Clone modes) is the operation's
			// too; a user's claim beside it is not. No controller here takes
			// the protection finalizer off a deleted claim, so it goes now.
			temp := pvc(c.ns, op.Name("copy"), "standard", "1Gi", corev1.ReadWriteOnce, nil)
			temp.Labels = op.Labels("copy")
			create(t, c.cl, temp)
			temp.Finalizers = nil
			require.NoError(t, c.cl.Update(ctx, temp))
			create(t, c.cl, pvc(c.ns, "users-data", "standard", "1Gi", corev1.ReadWriteOnce, nil))
		}
		in := contract.CleanupInput{Op: op, Source: source, SourceNamespace: "shop", Destination: dr, DestinationNamespace: "shop-dr"}
		var found contract.WorkingObjects
		require.NoError(t, run(t, acts.FindWorkingObjects, in, &found))
		var result contract.CleanupResult
		require.NoError(t, run(t, acts.Cleanup, in, &result))
		assert.Len(t, result.Deleted, 6)
		assert.Contains(t, result.Deleted, "dr/pvc/shop-dr/"+op.Name("copy"))
		assert.ElementsMatch(t, result.Deleted, found.Objects, "the workflow's look finds what Cleanup deletes")
		var after contract.WorkingObjects
		require.NoError(t, run(t, acts.FindWorkingObjects, in, &after))
		assert.Empty(t, after.Objects, "nothing is left to find, so the next run's look skips Cleanup")
		for _, c := range []struct {
			cl client.Client
			ns string
		}{{env.Source.Client, "shop"}, {env.DR.Client, "shop-dr"}} {
			var pods corev1.PodList
			require.NoError(t, c.cl.List(ctx, &pods, client.InNamespace(c.ns), client.MatchingLabels{kube.LabelOperation: kube.OperationID(op.WorkflowID)}))
			assert.Empty(t, pods.Items)
			var users corev1.Pod
			assert.NoError(t, c.cl.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: "users-app"}, &users), "a user's pod survives")
			var data corev1.PersistentVolumeClaim
			assert.NoError(t, c.cl.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: "users-data"}, &data), "a user's claim survives")
		}
	})

	t.Run("a member's pre-run cleanup also deletes the batch an ended run left, its final cleanup does not", func(t *testing.T) {
		member := contract.Operation{WorkflowID: "pvc-sync/source/shop/orders", RunID: "run-2"}
		other := contract.Operation{WorkflowID: "pvc-sync/source/shop/carts", RunID: "run-2"}
		batch := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-0", RunID: "run-1",
			Members: []string{member.WorkflowID, "pvc-sync/source/shop/users"}}
		sides := []struct {
			cl client.Client
			ns string
		}{{env.Source.Client, "shop"}, {env.DR.Client, "shop-dr"}}
		for _, c := range sides {
			create(t, c.cl, unscheduledPod(c.ns, batch.Name("mount"), batch.Labels("mount")))
			create(t, c.cl, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: batch.Name("creds"), Labels: batch.Labels("credentials")}})
		}
		batchObjects := func() (n int) {
			t.Helper()
			for _, c := range sides {
				var pods corev1.PodList
				var secrets corev1.SecretList
				own := client.MatchingLabels{kube.LabelOperation: kube.OperationID(batch.WorkflowID)}
				require.NoError(t, c.cl.List(ctx, &pods, client.InNamespace(c.ns), own))
				require.NoError(t, c.cl.List(ctx, &secrets, client.InNamespace(c.ns), own))
				n += len(pods.Items) + len(secrets.Items)
			}
			return n
		}
		// The workflow looks first and cleans up only what it finds: the
		// look must list exactly what Cleanup deletes.
		cleanup := func(op contract.Operation, leftovers bool) contract.CleanupResult {
			in := contract.CleanupInput{Op: op, Source: source, SourceNamespace: "shop",
				Destination: dr, DestinationNamespace: "shop-dr", Leftovers: leftovers}
			var found contract.WorkingObjects
			require.NoError(t, run(t, acts.FindWorkingObjects, in, &found))
			var result contract.CleanupResult
			require.NoError(t, run(t, acts.Cleanup, in, &result))
			assert.ElementsMatch(t, result.Deleted, found.Objects, "what the look found")
			return result
		}
		assert.Empty(t, cleanup(member, false).Deleted, "a sync's final cleanup leaves its batch to the other members")
		assert.Empty(t, cleanup(other, true).Deleted, "a batch is no leftover of a sync it does not serve")
		require.Equal(t, 4, batchObjects())
		assert.ElementsMatch(t, []string{
			"source/pod/shop/" + batch.Name("mount"), "dr/pod/shop-dr/" + batch.Name("mount"),
			"source/secret/shop/" + batch.Name("creds"), "dr/secret/shop-dr/" + batch.Name("creds"),
		}, cleanup(member, true).Deleted)
		assert.Zero(t, batchObjects())
	})
}

// pvcSteps are the PVC activities against real source and DR API servers,
// with the RemoteClusters "source" and "dr" testenv registers.
type pvcSteps struct {
	env        *testenv.Env
	acts       *pvcdata.PVCActivities
	source, dr contract.ClusterRef
	// authority is Replication "shop" (source/shop → dr/shop-dr), whose
	// key Secrets clusterKey and hostKey exist.
	authority           *contract.PlanRequest
	clusterKey, hostKey contract.SecretRef
	pair                keys.ClusterPairKey
	hostPub             []byte
}

func newPVCSteps(t *testing.T) pvcSteps {
	env := testenv.Start(t)
	s := pvcSteps{env: env,
		acts:       &pvcdata.PVCActivities{Clusters: kube.NewClusters(env.DR.Client, kube.KubeconfigPolicy{}), Control: env.DR.Client},
		source:     contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "source"},
		dr:         contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "dr"},
		authority:  createAuthority(t, env.DR.Client, "shop", "source", "shop", "dr", "shop-dr"),
		clusterKey: contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.ClusterKeySecretName("source", "dr")},
		hostKey:    contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.AgentHostKeySecretName("source")},
	}
	s.pair, s.hostPub = controlKeySecrets(t, env.DR.Client, s.clusterKey.Name, s.hostKey.Name)
	return s
}

// runActivity runs one activity of acts in Temporal's activity test
// environment and decodes its result into out.
func runActivity(t *testing.T, acts any, fn any, in any, out any) error {
	var ts testsuite.WorkflowTestSuite
	aenv := ts.NewTestActivityEnvironment()
	aenv.RegisterActivity(acts)
	v, err := aenv.ExecuteActivity(fn, in)
	if err == nil && out != nil {
		require.NoError(t, v.Get(out))
	}
	return err
}

func pvc(ns, name, class, size string, mode corev1.PersistentVolumeAccessMode, annotations map[string]string) *corev1.PersistentVolumeClaim {
	labels := map[string]string{}
	for k, v := range annotations {
		if k == "app" {
			labels[k] = v
			delete(annotations, k)
		}
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func unscheduledPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	require.NoError(t, c.Create(context.Background(), obj))
}

func ptr[T any](v T) *T { return &v }

func kubeQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
