package integration

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// Transfer against a real API server: the kubelet's part (running the
// mover and reporting its exit) is played by status updates.
func TestTransfer(t *testing.T) {
	cluster := testenv.StartCluster(t, "dr")
	cluster.RegisterRemoteCluster(t, testenv.ControlNamespace, cluster)
	acts := &pvcdata.PVCActivities{Clusters: kube.NewClusters(cluster.Client, kube.KubeconfigPolicy{}), Control: cluster.Client}
	dr := contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "dr"}
	testenv.EnsureNamespace(t, cluster.Client, "app")
	authority := createAuthority(t, cluster.Client, "app", "dr", "app-src", "dr", "app")
	ctx := context.Background()

	input := func(workflowID string) contract.TransferInput {
		return contract.TransferInput{
			Op:  contract.Operation{WorkflowID: workflowID, RunID: "run-1"},
			PVC: contract.PVCRef{Cluster: dr, Namespace: "app", Name: "data"}, Node: "dr-1",
			Image:     planImage,
			AgentAddr: "10.255.0.11:2222", Target: "10.244.1.5:8873", Credentials: "drs-creds-x",
			Config:    rsyncargs.Config{BandwidthLimitKiB: 100, ExcludePaths: []string{"cache"}},
			Authority: authority,
		}
	}
	// finishedPod is a sync pod whose mover already ended with summary, as a
	// worker that died mid-transfer would find it on its next attempt.
	finishedPod := func(t *testing.T, in contract.TransferInput, summary *progress.Summary, exitCode int32) *corev1.Pod {
		pod := kube.SyncPod(kube.SyncPodOptions{Name: in.Op.Name("sync"), Namespace: "app", Node: "dr-1", Claim: "data",
			Image: in.Image.Reference, Labels: in.Op.Labels("sync"), CredentialsSecret: "c", SSHSecret: "c"})
		create(t, cluster.Client, pod)
		message := ""
		if summary != nil {
			data, err := json.Marshal(summary)
			require.NoError(t, err)
			message = string(data)
		}
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "mover", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: message, Reason: "Completed"}}}}
		require.NoError(t, cluster.Client.Status().Update(ctx, pod))
		return pod
	}
	run := func(in contract.TransferInput, heartbeat *contract.TransferProgress) (contract.TransferResult, error) {
		var ts testsuite.WorkflowTestSuite
		aenv := ts.NewTestActivityEnvironment()
		aenv.RegisterActivity(acts)
		if heartbeat != nil {
			aenv.SetHeartbeatDetails(*heartbeat)
		}
		v, err := aenv.ExecuteActivity(acts.Transfer, in)
		var result contract.TransferResult
		if err == nil {
			require.NoError(t, v.Get(&result))
		}
		return result, err
	}

	t.Run("a retry re-attaches to the running transfer and reports where it resumed", func(t *testing.T) {
		in := input("pvc-sync/prod/app/data")
		pod := finishedPod(t, in, &progress.Summary{
			Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess},
			Stats:   progress.Stats{TotalTransferredFileSize: 4096, NumFiles: 3}, Streams: 1,
		}, 0)
		result, err := run(in, &contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: 2048, BytesTotal: 4096}})
		require.NoError(t, err)
		assert.Equal(t, int64(2048), result.ResumedFromBytes)
		assert.Equal(t, int64(4096), result.Stats.TotalTransferredFileSize)
		var after corev1.Pod
		require.NoError(t, cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &after))
		assert.Equal(t, pod.UID, after.UID, "the transfer was not started again")
	})

	t.Run("the transfer reports its figures, and why an attempt failed, to the Replication run", func(t *testing.T) {
		signals := &recordingSignaler{}
		reporting := *acts
		reporting.Temporal = signals
		target := &contract.ProgressTarget{WorkflowID: "replication/app/app-src/1", RunID: "run-parent", PVC: "data"}
		runReporting := func(in contract.TransferInput, heartbeat contract.TransferProgress) error {
			var ts testsuite.WorkflowTestSuite
			aenv := ts.NewTestActivityEnvironment()
			aenv.RegisterActivity(&reporting)
			aenv.SetHeartbeatDetails(heartbeat)
			_, err := aenv.ExecuteActivity(reporting.Transfer, in)
			return err
		}
		resumedAt := contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: 2048, BytesTotal: 4096}}

		in := input("pvc-sync/prod/app/reported")
		in.Progress = target
		finishedPod(t, in, &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1}, 0)
		require.NoError(t, runReporting(in, resumedAt))
		require.NotEmpty(t, signals.sent)
		for _, s := range signals.sent {
			assert.Equal(t, [3]string{target.WorkflowID, target.RunID, contract.SignalPVCProgress}, [3]string{s.workflowID, s.runID, s.name})
			assert.Equal(t, "data", s.update.PVC)
		}
		last := signals.sent[len(signals.sent)-1].update
		require.NotNil(t, last.Transfer)
		assert.EqualValues(t, 2048, last.Transfer.BytesDone, "the figures the attempt resumed from")
		assert.Equal(t, contract.TransferMoved, last.Transfer.Phase, "the last report frees the sync's place in the run")
		assert.Empty(t, last.LastFailure)

		signals.sent = nil
		failing := input("pvc-sync/prod/app/reported-fail")
		failing.Progress = target
		finishedPod(t, failing, &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassRetryable, ExitCode: 12, Reason: "protocol data stream"}, Error: "connection reset"}, 12)
		require.Error(t, runReporting(failing, resumedAt))
		require.NotEmpty(t, signals.sent)
		assert.Contains(t, signals.sent[len(signals.sent)-1].update.LastFailure, "rsync exit 12", "the run learns why the attempt failed")
		for _, s := range signals.sent {
			assert.False(t, s.update.Transfer != nil && s.update.Transfer.Phase == contract.TransferMoved,
				"a failed transfer never says moved: its retry may move data again")
		}

		signals.sent = nil
		standalone := input("pvc-sync/prod/app/unreported")
		finishedPod(t, standalone, &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1}, 0)
		require.NoError(t, runReporting(standalone, resumedAt))
		assert.Empty(t, signals.sent, "a sync without a parent run reports nothing")
	})

	t.Run("rsync's permanent failures are non-retryable, interruptions are retried", func(t *testing.T) {
		for _, tc := range []struct {
			id        string
			class     rsyncargs.Class
			retryable bool
		}{{"pvc-sync/prod/app/perm", rsyncargs.ClassPermanent, false}, {"pvc-sync/prod/app/net", rsyncargs.ClassRetryable, true}} {
			in := input(tc.id)
			finishedPod(t, in, &progress.Summary{Outcome: rsyncargs.Outcome{Class: tc.class, ExitCode: 12, Reason: "protocol data stream"}, Error: "connection reset"}, 75)
			_, err := run(in, nil)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "got %v", err)
			assert.Contains(t, appErr.Error(), "rsync exit 12")
			assert.Equal(t, !tc.retryable, appErr.NonRetryable(), tc.id)
			if !tc.retryable {
				assert.Equal(t, contract.ErrTypeTransferFailed, appErr.Type())
			}
		}
	})

	t.Run("a retry creates the lost mount pod again, also when it is lost again, and replaces the failed sync pod", func(t *testing.T) {
		in := input("pvc-sync/prod/app/lost")
		in.Mount = &contract.MountPodInput{Op: in.Op, PVC: contract.PVCRef{Cluster: dr, Namespace: "app", Name: "src"},
			Node: "src-1", Image: in.Image, Credentials: in.Credentials}
		in.Target = in.Mount.Target()
		// What a new sync pod and mount pod need: the keys its certificate
		// is issued from, the operation's Secret, the agent on the node.
		in.ClusterKey = &contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.ClusterKeySecretName("dr", "dr")}
		in.AgentHostKey = &contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.AgentHostKeySecretName("dr")}
		controlKeySecrets(t, cluster.Client, in.ClusterKey.Name, in.AgentHostKey.Name)
		create(t, cluster.Client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: in.Credentials}})
		createAgent(t, cluster.Client, "src-1", "10.244.1.2")
		// The attempt before: its mount pod was deleted mid-transfer and the
		// mover ended with a connection error. No mount pod is left.
		failed := finishedPod(t, in, &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassRetryable, ExitCode: 12,
			Reason: "protocol data stream"}, Error: "connection unexpectedly closed"}, 75)
		failed.Status.Phase = corev1.PodFailed
		require.NoError(t, cluster.Client.Status().Update(ctx, failed))

		type outcome struct {
			result contract.TransferResult
			err    error
		}
		finished := make(chan outcome, 1)
		go func() {
			r, err := run(in, &contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: 1 << 20}})
			finished <- outcome{r, err}
		}()
		mount := &corev1.Pod{}
		mountKey := client.ObjectKey{Namespace: "app", Name: in.Mount.PodName()}
		podWithNewUID := func(key client.ObjectKey, obj *corev1.Pod, old types.UID) func() bool {
			return func() bool {
				return cluster.Client.Get(ctx, key, obj) == nil && obj.UID != old && obj.DeletionTimestamp == nil
			}
		}
		require.Eventually(t, podWithNewUID(mountKey, mount, ""), 10*time.Second, 100*time.Millisecond, "the mount pod is created again")
		assert.Equal(t, in.Op.RunID, mount.Labels[kube.LabelRun])
		assert.Equal(t, "src-1", mount.Spec.NodeName)
		sync := &corev1.Pod{}
		require.Eventually(t, podWithNewUID(client.ObjectKeyFromObject(failed), sync, failed.UID), 10*time.Second, 100*time.Millisecond,
			"the failed sync pod is replaced, so a new mover resumes")

		// Lost again while the new mover runs (evicted, node drained): the
		// running attempt creates it again, long before the mover's wait ends.
		lost := mount.UID
		require.NoError(t, cluster.Client.Delete(ctx, mount, client.GracePeriodSeconds(0)))
		require.Eventually(t, podWithNewUID(mountKey, mount, lost), 10*time.Second, 100*time.Millisecond, "the mount pod is created again")

		data, err := json.Marshal(progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
			Stats: progress.Stats{TotalTransferredFileSize: 1 << 20}})
		require.NoError(t, err)
		sync.Status.Phase = corev1.PodSucceeded
		sync.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "mover", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{Message: string(data), Reason: "Completed"}}}}
		require.NoError(t, cluster.Client.Status().Update(ctx, sync))
		select {
		case got := <-finished:
			require.NoError(t, got.err)
			assert.Equal(t, int64(1<<20), got.result.ResumedFromBytes, "the sync resumed where the lost attempt stopped")
		case <-time.After(30 * time.Second):
			t.Fatal("the transfer did not finish")
		}
	})

	// A batch sync pod the run made (docs/design-batched-pvc-sync.md): the
	// input carries no cluster key, so a Transfer that made a pod of its
	// own would fail; following one makes nothing.
	t.Run("a followed batch container: nothing is created, and its own summary and exit decide", func(t *testing.T) {
		// A pod with a mover per claim, as workers made them before
		// kube.BatchMoversContainer; a pod of one mover needs the kubelet's
		// logs, which the lab tests read.
		batch := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "batch-sync", Namespace: "app"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: kube.BatchMoverContainer(0), Image: planImage.Reference}, {Name: kube.BatchMoverContainer(1), Image: planImage.Reference}},
		}}
		create(t, cluster.Client, batch)
		ended := func(s progress.Summary, exitCode int32) corev1.ContainerState {
			data, err := json.Marshal(s)
			require.NoError(t, err)
			return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: string(data), Reason: "Completed"}}
		}
		// Its batch-mate failed, so the pod did too; its own mover succeeded.
		batch.Status.Phase = corev1.PodFailed
		batch.Status.ContainerStatuses = []corev1.ContainerStatus{
			{Name: kube.BatchMoverContainer(0), State: ended(progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassPermanent,
				ExitCode: 23, Reason: "partial transfer"}, Error: "read error"}, 1)},
			{Name: kube.BatchMoverContainer(1), State: ended(progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess},
				Streams: 1, Stats: progress.Stats{TotalTransferredFileSize: 777, NumFiles: 7}}, 0)},
		}
		require.NoError(t, cluster.Client.Status().Update(ctx, batch))

		in := input("pvc-sync/prod/app/batched")
		in.Follow = &contract.FollowedMover{Pod: batch.Name, Container: kube.BatchMoverContainer(1)}
		result, err := run(in, nil)
		require.NoError(t, err)
		assert.Equal(t, int64(777), result.Stats.TotalTransferredFileSize, "its own container's summary")
		err = cluster.Client.Get(ctx, client.ObjectKey{Namespace: "app", Name: in.Op.Name("sync")}, &corev1.Pod{})
		assert.True(t, apierrors.IsNotFound(err), "no sync pod of its own: %v", err)

		in.Follow.Container = kube.BatchMoverContainer(0)
		_, err = run(in, nil)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeTransferFailed, appErr.Type(), "as for a sync pod of its own")
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Error(), "rsync exit 23")

		in.Follow.Pod = "batch-sync-lost"
		_, err = run(in, nil)
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeFollowedMoverLost, appErr.Type())
		assert.True(t, appErr.NonRetryable())
	})

	t.Run("a mover killed before its summary is retried", func(t *testing.T) {
		in := input("pvc-sync/prod/app/oom")
		finishedPod(t, in, nil, 137)
		_, err := run(in, nil)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.False(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Error(), "without a summary")
	})

	// The config arrives validated: the plan refuses a bad one, as a spec a
	// user must fix, before any run starts a pod.
	t.Run("a disallowed rsync option fails the plan", func(t *testing.T) {
		r := &drv1.Replication{
			ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "badopt"},
			Spec: drv1.ReplicationSpec{
				SourceCluster: "dr", DestinationCluster: "dr", SourceNamespace: "app", DestinationNamespace: "app-dr",
				ReplicationMode: drv1.ModeManual,
				PVCConfig: &drv1.PVCConfig{SyncData: true,
					DataSyncConfig: &drv1.DataSyncConfig{RsyncOptions: []string{"--rsh=sh -c evil"}, ExcludePaths: []string{"cache"}}},
			},
		}
		require.NoError(t, cluster.Client.Create(ctx, r))
		plans := &activities.PlanActivities{Control: cluster.Client}
		ref := contract.ObjectRef{Namespace: r.Namespace, Name: r.Name}
		_, err := plans.ResolveReplication(ctx, contract.PlanRequest{Replication: ref})
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeInvalidSpec, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Error(), "spec.pvcConfig.dataSyncConfig: ")
		assert.Contains(t, appErr.Error(), `rsyncOptions: rsync option not allowed: "--rsh=sh -c evil"`)

		r.Spec.PVCConfig.DataSyncConfig.RsyncOptions = []string{"--whole-file"}
		require.NoError(t, cluster.Client.Update(ctx, r))
		plan, err := plans.ResolveReplication(ctx, contract.PlanRequest{Replication: ref})
		require.NoError(t, err)
		assert.Equal(t, rsyncargs.Config{ExcludePaths: []string{"cache"}, RsyncOptions: []string{"--whole-file"},
			VerificationMode: rsyncargs.VerifyNone, ParallelStreams: 1, Timeout: rsyncargs.Duration(2 * time.Hour)}, plan.DataSync)
	})

	t.Run("the sync pod runs on the chosen node and mounts the DR PVC and the keys", func(t *testing.T) {
		in := input("pvc-sync/prod/app/spec")
		pod := kube.SyncPod(kube.SyncPodOptions{Name: in.Op.Name("sync"), Namespace: "app", Node: "dr-1", Claim: "data",
			Image: in.Image.Reference, Labels: in.Op.Labels("sync"), CredentialsSecret: "creds", SSHSecret: "creds",
			AgentAddr: in.AgentAddr, Target: in.Target, SyncConfigJSON: `{"bandwidthLimit":100}`})
		require.NoError(t, cluster.Client.Create(ctx, pod, client.DryRunAll), "the API server accepts the pod spec")
		// Placed through the scheduler (not nodeName), so a WaitForFirstConsumer
		// DR volume gets provisioned on the chosen node.
		assert.Empty(t, pod.Spec.NodeName)
		term := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0]
		assert.Equal(t, []string{"dr-1"}, term.MatchFields[0].Values)
		assert.Equal(t, "metadata.name", term.MatchFields[0].Key)
		assert.False(t, pod.Spec.Containers[0].VolumeMounts[0].ReadOnly, "the DR PVC is written")
		for _, v := range pod.Spec.Volumes[1:] {
			assert.Equal(t, int32(0o400), *v.Secret.DefaultMode, "key material is readable by the mover only")
		}
	})
}

// recordingSignaler stands in for the worker's Temporal client and records
// the progress reports Transfer sends.
type recordingSignaler struct {
	sent []recordedReport
}

type recordedReport struct {
	workflowID, runID, name string
	update                  contract.PVCProgressUpdate
}

func (r *recordingSignaler) SignalWorkflow(_ context.Context, workflowID, runID, name string, arg any) error {
	r.sent = append(r.sent, recordedReport{workflowID, runID, name, arg.(contract.PVCProgressUpdate)})
	return nil
}
