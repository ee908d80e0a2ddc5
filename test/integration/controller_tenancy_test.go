package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// Tenant team-a may not reach team-b's namespace through a reference: the
// controller, configured with the system namespace as cmd/controller is,
// refuses each such reference with a condition that names the reference
// and what to do, starts nothing and writes no Secret there. A reference
// into the system namespace is allowed.
func TestControllerRefusesCrossNamespaceReferences(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	system := testenv.ControlNamespace
	mgr := ctlManager(t, env)
	require.NoError(t, (&controller.ReplicationReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Temporal: ctlStarter(env),
		Recorder: mgr.GetEventRecorder("dr-syncer-controller"), PollInterval: ctlPoll, SystemNamespace: system}).SetupWithManager(mgr))
	require.NoError(t, (&controller.ClusterMappingReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Temporal: ctlStarter(env),
		PollInterval: ctlPoll, SystemNamespace: system}).SetupWithManager(mgr))
	ctlStartManager(t, mgr)

	// team-a has its own clusters; team-b and the system namespace each
	// hold a mapping and a kubeconfig Secret that team-a names.
	env.DR.RegisterRemoteCluster(t, "team-a", env.Source)
	env.DR.RegisterRemoteCluster(t, "team-a", env.DR)
	testenv.EnsureNamespace(t, env.DR.Client, "team-b")
	for _, ns := range []string{"team-b", system} {
		require.NoError(t, env.DR.Client.Create(ctx, &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr", VerifyConnectivity: ptrTo(false)}}))
	}
	require.NoError(t, env.DR.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "b-kubeconfig"},
		Data: map[string][]byte{"kubeconfig": env.DR.Kubeconfig}}))
	require.NoError(t, env.DR.Client.Create(ctx, &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "b-cluster"},
		Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Namespace: "team-b", Name: "b-kubeconfig", Key: "kubeconfig"}}}))

	inTeamA := func(r *drv1.Replication) {
		r.Namespace = "team-a"
		r.Annotations = map[string]string{drv1.AnnotationSyncNow: "1"}
	}
	viaMapping := func(ns string) func(*drv1.Replication) {
		return func(r *drv1.Replication) {
			r.Spec.SourceCluster, r.Spec.DestinationCluster = "", ""
			r.Spec.ClusterMappingRef = &drv1.ObjectRef{Namespace: ns, Name: "shared"}
		}
	}
	t.Run("a Replication naming another tenant's mapping or kubeconfig is InvalidReference", func(t *testing.T) {
		for _, tc := range []struct {
			repl *drv1.Replication
			want string
		}{
			{ctlReplication("steal-mapping", "shop", inTeamA, viaMapping("team-b")),
				"Replication team-a/steal-mapping: spec.clusterMappingRef.namespace points into namespace team-b, but a reference may only point into its own namespace team-a or the dr-syncer system namespace dr-syncer-system; move the referenced object there and fix spec.clusterMappingRef.namespace"},
			{ctlReplication("steal-kubeconfig", "shop", inTeamA, func(r *drv1.Replication) { r.Spec.DestinationCluster = "b-cluster" }),
				"RemoteCluster team-a/b-cluster: spec.kubeconfigSecretRef.namespace points into namespace team-b"},
		} {
			require.NoError(t, env.DR.Client.Create(ctx, tc.repl))
			got := ctlWaitStatus(t, env, tc.repl, "InvalidReference", ctlHasReason(controller.ReasonInvalidReference))
			c := ctlSynced(got)
			assert.Equal(t, metav1.ConditionFalse, c.Status)
			assert.Contains(t, c.Message, tc.want)
			assert.Empty(t, got.Status.SyncNowHandled, "no run started for %s", tc.repl.Name)
			runs, err := ctlStarter(env).History(ctx, ctlRef(tc.repl), 10)
			require.NoError(t, err)
			assert.Empty(t, runs)
		}
	})

	t.Run("a mapping in the system namespace is allowed", func(t *testing.T) {
		repl := ctlReplication("shared-mapping", "shop", inTeamA, viaMapping(system), func(r *drv1.Replication) { r.Annotations = nil })
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		ctlWaitStatus(t, env, repl, "Pending", ctlHasReason(controller.ReasonPending))
	})

	t.Run("a ClusterMapping whose key Secret is in another tenant's namespace writes nothing there", func(t *testing.T) {
		m := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "plant-key"},
			Spec: drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr", VerifyConnectivity: ptrTo(false),
				SSHKeySecretRef: &drv1.SecretRef{Namespace: "team-b", Name: "planted"}}}
		require.NoError(t, env.DR.Client.Create(ctx, m))
		var ready *metav1.Condition
		require.Eventually(t, func() bool {
			var got drv1.ClusterMapping
			require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKeyFromObject(m), &got))
			ready = meta.FindStatusCondition(got.Status.Conditions, drv1.ConditionReady)
			return ready != nil && ready.ObservedGeneration == got.Generation
		}, 60*time.Second, 200*time.Millisecond)
		assert.Equal(t, controller.ReasonMappingInvalidReference, ready.Reason)
		assert.Contains(t, ready.Message, "ClusterMapping team-a/plant-key: spec.sshKeySecretRef.namespace points into namespace team-b")
		err := env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "team-b", Name: "planted"}, &corev1.Secret{})
		assert.True(t, apierrors.IsNotFound(err), "no key Secret generated in team-b: %v", err)
	})
}
