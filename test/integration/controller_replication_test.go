package integration

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The Replication reconciler in a controller-runtime manager against the real
// DR (control) API server, a real Temporal dev server and, from the second
// subtest on, a real worker. Subtests share the environment and run in order.
func TestControllerReplication(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	s := ctlStarter(env)
	stop := ctlRunController(t, env)
	outer := t // a controller restarted in a subtest serves the later ones too

	t.Run("invalid references set InvalidReference and start nothing", func(t *testing.T) {
		brokenCluster := &drv1.RemoteCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "no-secret"},
			Spec:       drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "no-secret-kubeconfig", Key: "kubeconfig"}},
		}
		require.NoError(t, env.DR.Client.Create(ctx, brokenCluster))
		scheduled := func(r *drv1.Replication) {
			r.Spec.ReplicationMode, r.Spec.Schedule = drv1.ModeScheduled, "0 * * * *"
			r.Annotations = map[string]string{drv1.AnnotationSyncNow: "1"}
		}
		for _, tc := range []struct {
			repl *drv1.Replication
			want string
		}{
			{ctlReplication("bad-mapping", "shop", scheduled, func(r *drv1.Replication) {
				r.Spec.SourceCluster, r.Spec.DestinationCluster = "", ""
				r.Spec.ClusterMappingRef = &drv1.ObjectRef{Name: "nope"}
			}), "ClusterMapping dr-syncer-system/nope not found: create it or fix spec.clusterMappingRef"},
			{ctlReplication("bad-cluster", "shop", scheduled, func(r *drv1.Replication) { r.Spec.SourceCluster = "prod" }),
				"RemoteCluster dr-syncer-system/prod not found"},
			{ctlReplication("bad-secret", "shop", scheduled, func(r *drv1.Replication) { r.Spec.DestinationCluster = "no-secret" }),
				"Secret dr-syncer-system/no-secret-kubeconfig with the kubeconfig of RemoteCluster dr-syncer-system/no-secret not found"},
		} {
			require.NoError(t, env.DR.Client.Create(ctx, tc.repl))
			got := ctlWaitStatus(t, env, tc.repl, "InvalidReference", ctlHasReason(controller.ReasonInvalidReference))
			c := ctlSynced(got)
			assert.Equal(t, metav1.ConditionFalse, c.Status)
			assert.Contains(t, c.Message, tc.want)
			assert.Equal(t, drv1.PhaseFailed, got.Status.Phase)
			assert.Empty(t, got.Status.SyncNowHandled)
			assert.Nil(t, got.Status.NextSyncTime)

			sched, err := s.DescribeSchedule(ctx, ctlRef(tc.repl))
			require.NoError(t, err)
			assert.Nil(t, sched, "no Schedule for %s", tc.repl.Name)
			// Checked by ID, which is strongly consistent, and in visibility.
			_, err = s.RunState(ctx, contract.ReplicationWorkflowID(tc.repl.Namespace, tc.repl.Name, "1"), "")
			assert.ErrorIs(t, err, starter.ErrRunNotFound, "no run for %s", tc.repl.Name)
			runs, err := s.History(ctx, ctlRef(tc.repl), 10)
			require.NoError(t, err)
			assert.Empty(t, runs)
		}
	})

	t.Run("a failover annotation starts one failover; syncs pause until failback", func(t *testing.T) {
		ctlFailoverPausesSyncs(t, env)
	})

	t.Run("sync-now starts exactly one run, across a restart; status follows it to Completed", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.Source.Client, "quick")
		repl := ctlReplication("quick", "quick")
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		got := ctlWaitStatus(t, env, repl, "Pending", ctlHasReason(controller.ReasonPending))
		assert.Equal(t, drv1.PhasePending, got.Status.Phase)
		assert.Contains(t, got.Status.Conditions[0].Message, drv1.AnnotationSyncNow)

		// No worker yet: the run waits in Temporal, as it would while workers restart.
		ctlSetSyncNow(t, env, repl, "first")
		wantID := "replication/dr-syncer-system/quick/first"
		got = ctlWaitStatus(t, env, repl, "Running", func(r *drv1.Replication) bool { return r.Status.Phase == drv1.PhaseRunning })
		require.NotNil(t, got.Status.CurrentRun)
		assert.Equal(t, wantID, got.Status.CurrentRun.WorkflowID)
		assert.NotEmpty(t, got.Status.CurrentRun.RunID)
		assert.Equal(t, "first", got.Status.SyncNowHandled)
		assert.Equal(t, controller.ReasonRunning, ctlSynced(got).Reason)
		firstRunID := got.Status.CurrentRun.RunID

		// Restart the controller, and lose the status write that recorded the
		// run on the way: the new controller sees "first" as unhandled again.
		stop()
		lost := ctlGet(t, env, repl)
		lost.Status = drv1.ReplicationStatus{}
		require.NoError(t, env.DR.Client.Status().Update(ctx, lost))
		stop = ctlRunController(outer, env)
		got = ctlWaitStatus(t, env, repl, "the run again", func(r *drv1.Replication) bool { return r.Status.CurrentRun != nil })
		assert.Equal(t, firstRunID, got.Status.CurrentRun.RunID, "the restarted controller found the same run")
		assert.Equal(t, "first", got.Status.SyncNowHandled)
		// A further reconcile (an unrelated annotation change) starts nothing either.
		patch := client.MergeFrom(got.DeepCopy())
		got.Annotations["example.com/touched"] = "yes"
		require.NoError(t, env.DR.Client.Patch(ctx, got, patch))

		env.StartWorker(outer)
		got = ctlWaitStatus(t, env, repl, "Completed", func(r *drv1.Replication) bool { return r.Status.Phase == drv1.PhaseCompleted })
		st := got.Status
		c := ctlSynced(got)
		assert.Equal(t, metav1.ConditionTrue, c.Status)
		assert.Equal(t, controller.ReasonSyncSucceeded, c.Reason)
		assert.Nil(t, st.CurrentRun)
		require.NotNil(t, st.LastRun)
		assert.Equal(t, wantID, st.LastRun.WorkflowID)
		assert.Equal(t, firstRunID, st.LastRun.RunID)
		assert.Equal(t, "Completed", st.LastRun.Result)
		require.NotNil(t, st.LastSyncTime)
		assert.Equal(t, st.LastRun.CloseTime, st.LastSyncTime)
		require.NotNil(t, st.SyncStats)
		assert.Equal(t, int32(1), st.SyncStats.SuccessfulSyncs)
		assert.Equal(t, int32(0), st.SyncStats.FailedSyncs)
		assert.NotEmpty(t, st.SyncStats.LastSyncDuration)
		assert.Nil(t, st.LastError)
		assert.Equal(t, got.Generation, st.ObservedGeneration)

		runs := ctlRuns(t, env, repl, 1, ctlClosed)
		assert.Equal(t, wantID, runs[0].WorkflowID)
		assert.Equal(t, "Completed", runs[0].Status)

		ctlSetSyncNow(t, env, repl, "second")
		got = ctlWaitStatus(t, env, repl, "a second success", func(r *drv1.Replication) bool {
			return r.Status.SyncStats != nil && r.Status.SyncStats.SuccessfulSyncs == 2
		})
		assert.Equal(t, "replication/dr-syncer-system/quick/second", got.Status.LastRun.WorkflowID)
		assert.Equal(t, "second", got.Status.SyncNowHandled)
		ctlRuns(t, env, repl, 2, ctlClosed)
		ctlWaitEvents(t, env, repl, controller.EventSyncStarted, controller.EventSyncSucceeded)
	})

	t.Run("a failed PVC sync fails the run, and the status says why", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.Source.Client, "failing")
		ctlBoundPVC(t, env.Source, "failing", "data", "standard")
		repl := ctlReplication("failing", "failing", func(r *drv1.Replication) {
			r.Spec.PVCConfig = &drv1.PVCConfig{SyncData: true, StorageClassMappings: []drv1.Mapping{{From: "standard", To: "missing-class"}}}
			r.Annotations = map[string]string{drv1.AnnotationSyncNow: "go"}
		})
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		got := ctlWaitStatus(t, env, repl, "Failed", func(r *drv1.Replication) bool { return r.Status.Phase == drv1.PhaseFailed })
		st := got.Status
		c := ctlSynced(got)
		assert.Equal(t, metav1.ConditionFalse, c.Status)
		assert.Equal(t, controller.ReasonSyncFailed, c.Reason)
		assert.Contains(t, c.Message, `storage class "missing-class"`)
		require.NotNil(t, st.LastError)
		assert.Contains(t, st.LastError.Message, "1 of 1 PVC syncs failed")
		assert.Contains(t, st.LastError.Message, "pvcConfig.storageClassMappings")
		assert.Equal(t, "DataSync", st.LastError.Category)
		assert.Equal(t, int32(1), st.SyncStats.FailedSyncs)
		assert.Equal(t, int32(0), st.SyncStats.SuccessfulSyncs)
		assert.Nil(t, st.LastSyncTime, "no sync has succeeded")
		assert.Equal(t, "replication/dr-syncer-system/failing/go", st.LastRun.WorkflowID)
		assert.Equal(t, "Failed", st.LastRun.Result)
		assert.NotEmpty(t, st.LastRun.RunID)
		assert.Nil(t, st.CurrentRun)
		ctlWaitEvents(t, env, repl, controller.EventSyncFailed, controller.EventPVCSyncStarted, controller.EventPVCSyncFailed)
		// One event per PVC sync step, recorded once (a repeat would count
		// in the Event's series); the failure says why and what to do.
		for _, reason := range []string{controller.EventPVCSyncStarted, controller.EventPVCSyncFailed} {
			events := ctlEvents(t, env, repl, reason)
			require.Len(t, events, 1, reason)
			assert.Nil(t, events[0].Series, "%s recorded more than once", reason)
			assert.True(t, strings.HasPrefix(events[0].Note, "PVC data: "), events[0].Note)
		}
		failed := ctlEvents(t, env, repl, controller.EventPVCSyncFailed)[0]
		assert.Equal(t, "Warning", failed.Type)
		assert.Contains(t, failed.Note, `storage class "missing-class"`)
		assert.Contains(t, failed.Note, "spec.pvcConfig.storageClassMappings", "says what to do")
	})

	t.Run("Scheduled mode keeps a Schedule in step with the spec", func(t *testing.T) {
		repl := ctlReplication("nightly", "nightly", func(r *drv1.Replication) {
			r.Spec.ReplicationMode, r.Spec.Schedule = drv1.ModeScheduled, "17 3 * * *"
		})
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		got := ctlWaitStatus(t, env, repl, "a next sync time", func(r *drv1.Replication) bool { return r.Status.NextSyncTime != nil })
		next := got.Status.NextSyncTime.UTC()
		assert.Equal(t, []int{3, 17}, []int{next.Hour(), next.Minute()}, "next sync %s", next)
		assert.True(t, next.After(time.Now()))
		sched, err := s.DescribeSchedule(ctx, ctlRef(repl))
		require.NoError(t, err)
		require.NotNil(t, sched)
		assert.Equal(t, "replication/dr-syncer-system/nightly/schedule", sched.ID)
		assert.Equal(t, `dr-syncer: cron "17 3 * * *"`, sched.Note)
		assert.False(t, sched.Paused)
		assert.Equal(t, next, sched.NextRuns[0].UTC().Truncate(time.Second))
		assert.Equal(t, controller.ReasonPending, ctlSynced(got).Reason)

		testenv.Edit(t, env.DR.Client, got, func(r *drv1.Replication) { r.Spec.Schedule = "45 */2 * * *" })
		got = ctlWaitStatus(t, env, repl, "the new cron", func(r *drv1.Replication) bool {
			return r.Status.NextSyncTime != nil && r.Status.NextSyncTime.Minute() == 45
		})
		assert.Equal(t, 0, got.Status.NextSyncTime.UTC().Hour()%2)
		next45, err := s.NextRunTime(ctx, ctlRef(repl))
		require.NoError(t, err)
		assert.Equal(t, 45, next45.Minute())

		testenv.Edit(t, env.DR.Client, got, func(r *drv1.Replication) { r.Spec.Paused = true })
		ctlWaitStatus(t, env, repl, "paused", func(r *drv1.Replication) bool {
			return r.Status.ObservedGeneration == r.Generation && r.Status.NextSyncTime == nil
		})
		sched, err = s.DescribeSchedule(ctx, ctlRef(repl))
		require.NoError(t, err)
		assert.True(t, sched.Paused)
	})

	t.Run("Scheduled mode without any schedule says what to set", func(t *testing.T) {
		repl := ctlReplication("unscheduled", "unscheduled", func(r *drv1.Replication) { r.Spec.ReplicationMode = drv1.ModeScheduled })
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		got := ctlWaitStatus(t, env, repl, "NoSchedule", ctlHasReason(controller.ReasonNoSchedule))
		assert.Contains(t, ctlSynced(got).Message, "spec.schedule")
		sched, err := s.DescribeSchedule(ctx, ctlRef(repl))
		require.NoError(t, err)
		assert.Nil(t, sched)
	})

	t.Run("deletion cancels the run and removes the Schedule, and keeps the DR copy", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.Source.Client, "leaving")
		ctlBoundPVC(t, env.Source, "leaving", "data", "standard")
		require.NoError(t, env.DR.Client.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "dr-standard"}, Provisioner: "example.com/dr"}))
		repl := ctlReplication("leaving", "leaving", func(r *drv1.Replication) {
			r.Spec.ReplicationMode, r.Spec.Schedule = drv1.ModeScheduled, "0 0 1 1 *"
			r.Spec.PVCConfig = &drv1.PVCConfig{SyncData: true, StorageClassMappings: []drv1.Mapping{{From: "standard", To: "dr-standard"}}}
			// The source cluster has no nodes, so choosing one retries, slowly:
			// the run stays open until it is cancelled.
			r.Spec.RetryConfig = &drv1.RetryConfig{MaxRetries: ptr(int32(100)), InitialBackoff: "1m", MaxBackoff: "10m"}
			r.Annotations = map[string]string{drv1.AnnotationSyncNow: "before-delete"}
		})
		require.NoError(t, env.DR.Client.Create(ctx, repl))
		got := ctlWaitStatus(t, env, repl, "Running", func(r *drv1.Replication) bool { return r.Status.Phase == drv1.PhaseRunning })
		run := *got.Status.CurrentRun
		var target corev1.PersistentVolumeClaim
		require.Eventually(t, func() bool {
			return env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "leaving", Name: "data"}, &target) == nil
		}, 60*time.Second, 200*time.Millisecond, "the run never created the DR PVC")
		sched, err := s.DescribeSchedule(ctx, ctlRef(repl))
		require.NoError(t, err)
		require.NotNil(t, sched)
		// The run counts its PVCs before it starts their syncs (it may wait
		// for a permit in between), so a poll may see the count first.
		got = ctlWaitStatus(t, env, repl, "progress naming PVC data", func(r *drv1.Replication) bool {
			return r.Status.SyncProgress != nil && r.Status.SyncProgress.PVCsTotal == 1 &&
				strings.Contains(r.Status.SyncProgress.CurrentOperation, "data")
		})

		require.NoError(t, env.DR.Client.Delete(ctx, got))
		require.Eventually(t, func() bool {
			err := env.DR.Client.Get(ctx, client.ObjectKeyFromObject(repl), &drv1.Replication{})
			return apierrors.IsNotFound(err)
		}, 60*time.Second, 200*time.Millisecond, "the finalizer was never removed")
		var state atomic.Pointer[starter.RunState]
		if !assert.Eventually(t, func() bool {
			st, err := s.RunState(ctx, run.WorkflowID, run.RunID)
			state.Store(&st)
			return err == nil && !st.Running()
		}, 60*time.Second, 200*time.Millisecond) {
			t.Fatalf("run %s never closed: %+v", run.WorkflowID, state.Load())
		}
		// The cancellation reached the PVC sync, which stopped and cleaned up.
		// (The Replication workflow reports its cancelled children as a
		// SyncFailed failure rather than ending Canceled itself.)
		child, err := s.RunState(ctx, contract.PVCSyncWorkflowID("source", "leaving", "data"), "")
		require.NoError(t, err)
		assert.Equal(t, "Canceled", child.Status)
		assert.Contains(t, state.Load().Error, "canceled")
		sched, err = s.DescribeSchedule(ctx, ctlRef(repl))
		require.NoError(t, err)
		assert.Nil(t, sched, "the Schedule is deleted")

		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "leaving", Name: "data"}, &target),
			"the DR PVC outlives the Replication")
		assert.True(t, target.DeletionTimestamp.IsZero())
		var ns corev1.Namespace
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Name: "leaving"}, &ns))
		assert.True(t, ns.DeletionTimestamp.IsZero(), "the DR namespace outlives the Replication")
	})
}

// ctlBoundPVC creates a PVC in c and marks it Bound through the status
// subresource; envtest runs no controller that would bind it.
func ctlBoundPVC(t *testing.T, c *testenv.Cluster, ns, name, class string) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	require.NoError(t, c.Client.Create(ctx, p))
	p.Status.Phase = corev1.ClaimBound
	require.NoError(t, c.Client.Status().Update(ctx, p))
}
