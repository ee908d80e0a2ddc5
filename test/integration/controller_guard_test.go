package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The DR-copy guards as a user meets them through the Replication: the
// controller, a real worker, real API servers and Temporal.
func TestControllerReplicationGuards(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ctlRunController(t, env)
	env.StartWorker(t)

	t.Run("a held mass deletion is Synced=False DeletionGuard until accepted, and the acceptance is recorded", func(t *testing.T) {
		var manifests []string
		for i := 0; i < 12; i++ {
			manifests = append(manifests, fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: cm-%02d}, data: {n: "%d"}}`, i, i))
		}
		resCreate(t, env.Source, "guarded", manifests...)
		repl := ctlReplication("guarded", "guarded", func(r *drv1.Replication) {
			r.Spec.ResourceTypes = []string{"configmaps"}
			r.Annotations = map[string]string{drv1.AnnotationSyncNow: "1"}
		})
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		ctlWaitStatus(t, env, repl, "first sync", func(r *drv1.Replication) bool { return r.Status.Phase == drv1.PhaseCompleted })

		for i := 0; i < 11; i++ {
			resRemove(t, env.Source, "v1", "ConfigMap", "guarded", fmt.Sprintf("cm-%02d", i))
		}
		ctlSetSyncNow(t, env, repl, "2")
		got := ctlWaitStatus(t, env, repl, "DeletionGuard", ctlHasReason(contract.ErrTypeDeletionGuard))
		c := ctlSynced(got)
		assert.Equal(t, metav1.ConditionFalse, c.Status)
		assert.Contains(t, c.Message, "would delete 11 of the 12 objects this Replication owns in DR, more than its limit of 10")
		assert.Contains(t, c.Message, "dr-syncer.io/accept-changes")
		for i := 0; i < 12; i++ {
			assert.False(t, resGone(t, env.DR, "v1", "ConfigMap", "guarded", fmt.Sprintf("cm-%02d", i)), "held: nothing deleted")
		}

		accepted := ctlGet(t, env, repl)
		patch := client.MergeFrom(accepted.DeepCopy())
		accepted.Annotations[drv1.AnnotationAcceptChanges] = "ok-1"
		accepted.Annotations[drv1.AnnotationSyncNow] = "3"
		require.NoError(t, env.DR.Client.Patch(ctx, accepted, patch))
		got = ctlWaitStatus(t, env, repl, "accepted", func(r *drv1.Replication) bool {
			return r.Status.Phase == drv1.PhaseCompleted && r.Status.AcceptChangesHandled == "ok-1"
		})
		assert.Equal(t, controller.ReasonSyncSucceeded, ctlSynced(got).Reason)
		for i := 0; i < 12; i++ {
			assert.Equal(t, i < 11, resGone(t, env.DR, "v1", "ConfigMap", "guarded", fmt.Sprintf("cm-%02d", i)), "cm-%02d", i)
		}
		ctlWaitEvents(t, env, repl, controller.EventChangesAccepted)
	})

	t.Run("a Replication onto its own source namespace is rejected and starts nothing", func(t *testing.T) {
		repl := ctlReplication("onto-itself", "shop", func(r *drv1.Replication) {
			r.Spec.DestinationCluster = r.Spec.SourceCluster
			r.Annotations = map[string]string{drv1.AnnotationSyncNow: "1"}
		})
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		got := ctlWaitStatus(t, env, repl, "rejected", ctlHasReason(controller.ReasonInvalidReference))
		assert.Contains(t, ctlSynced(got).Message, "a DR copy cannot be its own source")
		assert.Empty(t, got.Status.SyncNowHandled, "no run started")
	})
}
