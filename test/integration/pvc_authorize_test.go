package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// Whoever can start workflows on the task queue writes the activities'
// inputs. A forged PVCSync's steps must not run a foreign image, write into
// a namespace the Replication does not name, or copy another tenant's
// Secrets: each step resolves the Replication it names and refuses what
// differs, before it touches either cluster. Genuine inputs pass (the
// other PVC step tests run with them).
func TestForgedPVCSyncStepsAreRefused(t *testing.T) {
	steps := newPVCSteps(t)
	env, acts, source, dr := steps.env, steps.acts, steps.source, steps.dr
	ctx := context.Background()
	run := func(fn, in any) error { return runActivity(t, acts, fn, in, nil) }
	op := contract.Operation{WorkflowID: "pvc-sync/forged", RunID: "run-1"}
	noPods := func(t *testing.T, c client.Client, namespace string) {
		t.Helper()
		var pods corev1.PodList
		require.NoError(t, c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{kube.LabelOperation: kube.OperationID(op.WorkflowID)}))
		assert.Empty(t, pods.Items, "a refused step creates no pod")
	}
	testenv.EnsureNamespace(t, env.Source.Client, "shop")
	testenv.EnsureNamespace(t, env.DR.Client, "shop-dr")
	foreign := contract.Image{Reference: "attacker.example/miner:latest", PullPolicy: corev1.PullAlways}

	t.Run("a mount pod with a foreign image", func(t *testing.T) {
		err := run(acts.EnsureMountPod, contract.MountPodInput{Op: op, PVC: contract.PVCRef{Cluster: source, Namespace: "shop", Name: "data"},
			Node: "prod-1", Image: foreign, Credentials: "drs-creds-x", Authority: steps.authority})
		assertRefused(t, err, "EnsureMountPod refused", "Replication "+steps.authority.Replication.String(), "image is {Reference:attacker.example/miner:latest",
			planImage.Reference)
		noPods(t, env.Source.Client, "shop")
	})

	t.Run("a sync pod with a foreign image", func(t *testing.T) {
		err := run(acts.Transfer, contract.TransferInput{Op: op, PVC: contract.PVCRef{Cluster: dr, Namespace: "shop-dr", Name: "data"},
			Node: "dr-1", Image: foreign, AgentAddr: "10.0.0.1:2222", Target: "10.244.1.5:8873", Credentials: "drs-creds-x",
			Authority: steps.authority})
		assertRefused(t, err, "Transfer refused", "image is")
		noPods(t, env.DR.Client, "shop-dr")
	})

	t.Run("a sync pod in a namespace the Replication does not name", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.DR.Client, "payments")
		err := run(acts.Transfer, contract.TransferInput{Op: op, PVC: contract.PVCRef{Cluster: dr, Namespace: "payments", Name: "ledger"},
			Node: "dr-1", Image: planImage, Credentials: "drs-creds-x", Authority: steps.authority})
		assertRefused(t, err, `namespace is payments, the Replication's is shop-dr`)
		noPods(t, env.DR.Client, "payments")
	})

	t.Run("a sync pod that lifts the DR-copy guard nobody accepted", func(t *testing.T) {
		err := run(acts.Transfer, contract.TransferInput{Op: op, PVC: contract.PVCRef{Cluster: dr, Namespace: "shop-dr", Name: "data"},
			Node: "dr-1", Image: planImage, Credentials: "drs-creds-x", Acknowledged: true, Authority: steps.authority})
		assertRefused(t, err, "no pending accept-changes")
	})

	t.Run("another tenant's key Secret copied into the DR namespace", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.DR.Client, "tenant-b")
		stolen := contract.SecretRef{Namespace: "tenant-b", Name: "their-pair"}
		create(t, env.DR.Client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: stolen.Namespace, Name: stolen.Name},
			Data: map[string][]byte{kube.SecretKeyClusterKey: []byte("THEIRS")}})
		in := contract.CredentialsInput{Op: op, Source: source, SourceNamespace: "shop", Destination: dr, DestinationNamespace: "shop-dr",
			ClusterKey: stolen, AgentHostKey: steps.hostKey, Authority: steps.authority}
		assertRefused(t, run(acts.EnsureCredentials, in), "cluster key Secret is {Namespace:tenant-b Name:their-pair}")
		var secrets corev1.SecretList
		require.NoError(t, env.DR.Client.List(ctx, &secrets, client.InNamespace("shop-dr")))
		assert.Empty(t, secrets.Items, "nothing was copied")
	})

	t.Run("a drill's sync pod in a namespace no drill made", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.DR.Client, "tenant-c") // a tenant's, without the drill label
		// A drill copies DR's data through DR's agent.
		var rc drv1.RemoteCluster
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: dr.Namespace, Name: dr.Name}, &rc))
		before := rc.Spec.PVCSync
		rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true}
		require.NoError(t, env.DR.Client.Update(ctx, &rc))
		t.Cleanup(func() {
			require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: dr.Namespace, Name: dr.Name}, &rc))
			rc.Spec.PVCSync = before
			require.NoError(t, env.DR.Client.Update(ctx, &rc))
		})
		drill := &contract.PlanRequest{Replication: steps.authority.Replication, Direction: contract.DirectionDrill, DrillNamespace: "tenant-c"}
		err := run(acts.Transfer, contract.TransferInput{Op: op, PVC: contract.PVCRef{Cluster: dr, Namespace: "tenant-c", Name: "data"},
			Node: "dr-1", Image: planImage, Credentials: "drs-creds-x", Authority: drill})
		assertRefused(t, err, "Transfer refused", "namespace tenant-c", "is not a drill's scratch namespace")
		noPods(t, env.DR.Client, "tenant-c")
	})

	t.Run("a step that names no Replication, or one that does not exist", func(t *testing.T) {
		in := contract.MountPodInput{Op: op, PVC: contract.PVCRef{Cluster: source, Namespace: "shop", Name: "data"},
			Node: "prod-1", Image: planImage, Credentials: "drs-creds-x"}
		assertRefused(t, run(acts.EnsureMountPod, in), "names no Replication")
		in.Authority = &contract.PlanRequest{Replication: contract.ObjectRef{Namespace: testenv.ControlNamespace, Name: "invented"}}
		assertRefused(t, run(acts.EnsureMountPod, in), "Replication "+testenv.ControlNamespace+"/invented, which does not resolve: not found")
		noPods(t, env.Source.Client, "shop")
	})
}
