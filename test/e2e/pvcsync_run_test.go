//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
)

// input is the PVCSync input for the source PVC name into dr, mapping the
// default class to dr's other class.
func (e *pvcSyncEnv) input(name string, data rsyncargs.Config) contract.PVCSyncInput {
	maxRetries := int32(3)
	if data.Timeout == 0 {
		data.Timeout = rsyncargs.Duration(10 * time.Minute) // what the resolver defaults for a plan
	}
	return contract.PVCSyncInput{
		Replication:          e.replication(),
		Source:               contract.PVCRef{Cluster: contract.ClusterRef{Namespace: e.controlNS, Name: lab.Prod}, Namespace: e.srcNS, Name: name},
		Destination:          contract.ClusterRef{Namespace: e.controlNS, Name: lab.DR},
		DestinationNamespace: e.dstNS,
		CreateNamespace:      true,
		StorageClassMappings: map[string]string{"standard": "fast"},
		DataSync:             data,
		Image:                contract.Image{Reference: drv1.DefaultDataPlaneImage, PullPolicy: drv1.DefaultPullPolicy}, // the plan's
		AgentPort:            e.agent.port,
		ClusterKey:           e.clusterKey,
		AgentHostKey:         e.agentHostKey,
		Retry:                contract.RetrySettings{MaxRetries: maxRetries, InitialBackoff: "1s", MaxBackoff: "5s", BackoffMultiplier: 200},
	}
}

func (e *pvcSyncEnv) startSync(t *testing.T, name string, in contract.PVCSyncInput, queue string) client.WorkflowRun {
	t.Helper()
	run, err := e.tp.Client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:                       contract.PVCSyncWorkflowID(lab.Prod, e.srcNS, name),
		TaskQueue:                queue,
		WorkflowExecutionTimeout: 4 * time.Minute,
	}, contract.PVCSyncName, in)
	if err != nil {
		t.Fatalf("start PVCSync of %s: %v", name, err)
	}
	return run
}

func (e *pvcSyncEnv) waitSync(t *testing.T, run client.WorkflowRun) contract.PVCSyncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res contract.PVCSyncResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("PVCSync %s failed: %v", run.GetID(), err)
	}
	return res
}

// waitBytesMoved waits until the sync pod of run's operation reports that
// bytes arrived, and returns when its mover said so. It reads the mover's
// JSON progress lines from the pod's log: the Transfer activity's
// heartbeats reach the server only every 0.8 × its heartbeat timeout.
func (e *pvcSyncEnv) waitBytesMoved(t *testing.T, run client.WorkflowRun) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at, bytes, err := e.firstBytes(ctx, run.GetID())
	if err != nil {
		t.Fatalf("%s: no bytes moved: %v", run.GetID(), err)
	}
	t.Logf("%s: mover reported %d bytes moved", run.GetID(), bytes)
	return at
}

// firstBytes polls the logs of the operation's sync pod in DR for the first
// progress line with bytes done, until ctx ends.
func (e *pvcSyncEnv) firstBytes(ctx context.Context, workflowID string) (time.Time, int64, error) {
	for {
		if m := e.moverLog(ctx, workflowID); !m.firstByte.IsZero() {
			return m.firstByte, m.bytes, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// moverTimes is what the mover's JSON log says about when it ran.
type moverTimes struct {
	start, firstByte, end time.Time
	bytes                 int64
}

// followMoverTimes polls the operation's sync pod log until the mover's
// summary appears (or ctx ends) and returns the last state seen.
func (e *pvcSyncEnv) followMoverTimes(ctx context.Context, workflowID string) moverTimes {
	var last moverTimes
	for {
		if m := e.moverLog(ctx, workflowID); !m.end.IsZero() || !m.firstByte.IsZero() {
			last = m
			if !m.end.IsZero() {
				return m
			}
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// moverLog reads the JSON lines of the operation's sync pod once.
func (e *pvcSyncEnv) moverLog(ctx context.Context, workflowID string) moverTimes {
	var m moverTimes
	selector := kube.LabelOperation + "=" + kube.OperationID(workflowID) + "," + kube.LabelRole + "=sync"
	pods, err := e.drCS.CoreV1().Pods(e.dstNS).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return m
	}
	for _, p := range pods.Items {
		raw, err := e.drCS.CoreV1().Pods(e.dstNS).GetLogs(p.Name, &corev1.PodLogOptions{Container: "mover"}).DoRaw(ctx)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			var ev progress.Event
			if json.Unmarshal([]byte(line), &ev) != nil {
				continue
			}
			switch {
			case ev.Type == progress.TypeProgress && ev.Progress != nil && ev.Progress.BytesDone > 0 && m.firstByte.IsZero():
				m.firstByte, m.bytes = ev.Time, ev.Progress.BytesDone
			case ev.Type == progress.TypeSummary && ev.Summary != nil:
				m.end = ev.Time
				m.start = ev.Time.Add(-time.Duration(ev.Summary.DurationSeconds * float64(time.Second)))
			}
		}
	}
	return m
}

// reportOverhead logs, from a finished run's history, how long it took from
// the workflow start to the Transfer activity's start, and to the end.
func (e *pvcSyncEnv) reportOverhead(t *testing.T, run client.WorkflowRun, mover moverTimes) {
	t.Helper()
	it := e.tp.Client.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var start, transferStarted, transferDone, end time.Time
	transferScheduled := int64(-1)
	events := 0
	// scheduled event ID → activity type, for the per-step timeline
	activityTypes := map[int64]string{}
	var timeline []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events++
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			name := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			activityTypes[ev.GetEventId()] = name
			timeline = append(timeline, fmt.Sprintf("%.2f scheduled %s", at.Sub(start).Seconds(), name))
			if contract.IsTransfer(name) {
				transferScheduled = ev.GetEventId()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId() == transferScheduled {
				transferStarted = at
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			scheduled := ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
			timeline = append(timeline, fmt.Sprintf("%.2f completed %s", at.Sub(start).Seconds(), activityTypes[scheduled]))
			if scheduled == transferScheduled {
				transferDone = at
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			end = at
		}
	}
	since := func(at time.Time) string {
		if at.IsZero() {
			return "(not in the mover's log)"
		}
		return fmt.Sprintf("%.2fs", at.Sub(start).Seconds())
	}
	// The mover's first progress line comes after a second of transfer; a
	// small PVC is done before, so its first byte lies between the mover's
	// start and its end.
	t.Logf("overhead (%s, small PVC): start → Transfer activity started %.2fs, → mover started %s, → first progress line with bytes %s, → mover done (all bytes moved) %s, → Transfer done %.2fs, → workflow done %.2fs; %d history events",
		run.GetID(), transferStarted.Sub(start).Seconds(), since(mover.start), since(mover.firstByte), since(mover.end),
		transferDone.Sub(start).Seconds(), end.Sub(start).Seconds(), events)
	t.Logf("overhead timeline (s since start): %s", strings.Join(timeline, "; "))
}

// leftovers lists the mount pods, sync pods, per-operation Secrets,
// temporary PVCs and VolumeSnapshots in the test's namespaces of either
// cluster.
func (e *pvcSyncEnv) leftovers(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	opts := metav1.ListOptions{LabelSelector: kube.LabelOperation}
	var left []string
	for _, side := range []struct {
		name string
		cs   kubernetes.Interface
		ns   string
	}{{"prod", e.prodCS, e.srcNS}, {"dr", e.drCS, e.dstNS}} {
		pods, err := side.cs.CoreV1().Pods(side.ns).List(ctx, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			left = append(left, fmt.Sprintf("%s pod %s/%s (%s)", side.name, p.Namespace, p.Name, p.Status.Phase))
		}
		secrets, err := side.cs.CoreV1().Secrets(side.ns).List(ctx, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for _, s := range secrets.Items {
			left = append(left, fmt.Sprintf("%s secret %s/%s", side.name, s.Namespace, s.Name))
		}
		left = append(left, e.pointInTimeLeftovers(t, side.name, side.ns)...)
	}
	return left
}

func (e *pvcSyncEnv) assertNothingLeft(t *testing.T) {
	t.Helper()
	if left := e.leftovers(t); len(left) > 0 {
		t.Errorf("after the sync these remain: %v", left)
	}
}

// buildWorker builds ./cmd/worker for the worker-kill test.
func buildWorker(t *testing.T) string { return buildCommand(t, "worker") }

// buildCommand builds ./cmd/NAME of this checkout and returns its path.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// startWorkerProcess runs the worker binary against the control cluster and
// the test's Temporal, serving no metrics; the test's end kills it if it
// still runs.
func (e *pvcSyncEnv) startWorkerProcess(t *testing.T, bin, queue string) *exec.Cmd {
	t.Helper()
	return e.startWorkerProcessWith(t, bin, queue, workerProcess{})
}

// workerProcess is what an out-of-process worker does beyond the defaults.
type workerProcess struct {
	// MetricsAddr is where it serves /metrics; empty serves none.
	MetricsAddr string
	// BatchPods, when set, is its --batch-pods ("true" or "false");
	// empty takes the default, which DRSYNCER_BATCH_PODS can change.
	BatchPods string
}

// startWorkerProcessWith is startWorkerProcess with opts.
func (e *pvcSyncEnv) startWorkerProcessWith(t *testing.T, bin, queue string, opts workerProcess) *exec.Cmd {
	t.Helper()
	args := []string{"--kubeconfig", e.controlKubecfg, "--temporal-address", e.tp.Address, "--mount-pod-any-client",
		"--temporal-namespace", e.tp.Namespace, "--task-queue", queue, "--metrics-addr", opts.MetricsAddr, "--log-format", "console"}
	if opts.BatchPods != "" {
		args = append(args, "--batch-pods="+opts.BatchPods)
	}
	return startProcess(t, "worker", bin, args...)
}

// startProcess runs bin with args, its output in a log that a failed test
// shows the end of; the test's end stops it (SIGTERM, then SIGKILL after
// 10 s) if it still runs.
func startProcess(t *testing.T, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			waited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
			}
		}
		_ = logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(out), 40))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
