package integration

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// ctlPoll keeps the tests' waits short; production polls every 3s.
const ctlPoll = 500 * time.Millisecond

// ctlRunController runs the Replication reconciler in a controller-runtime
// manager against the DR (control) cluster, as cmd/controller does, and
// returns a func that stops it and waits until it has stopped.
func ctlRunController(t *testing.T, env *testenv.Env, configure ...func(*controller.ReplicationReconciler)) (stop func()) {
	t.Helper()
	mgr := ctlManager(t, env)
	r := &controller.ReplicationReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Temporal:     ctlStarter(env),
		Recorder:     mgr.GetEventRecorder("dr-syncer-controller"),
		PollInterval: ctlPoll,
	}
	for _, c := range configure {
		c(r)
	}
	require.NoError(t, r.SetupWithManager(mgr))
	return ctlStartManager(t, mgr)
}

// ctlManager is a manager against the DR (control) cluster without metrics
// or probe servers.
func ctlManager(t *testing.T, env *testenv.Env) ctrl.Manager {
	t.Helper()
	skip := true
	mgr, err := ctrl.NewManager(env.DR.Config, ctrl.Options{
		Scheme:                 kube.NewScheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Tests run one manager after another in one process.
		Controller: config.Controller{SkipNameValidation: &skip},
	})
	require.NoError(t, err)
	return mgr
}

// ctlStartManager starts mgr and returns a func, also run at cleanup, that
// stops it and waits until it has stopped.
func ctlStartManager(t *testing.T, mgr ctrl.Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("controller manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("controller manager did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return stop
}

func ctlStarter(env *testenv.Env) *starter.Starter {
	return &starter.Starter{Client: env.Temporal.Client, Namespace: env.Temporal.Namespace, TaskQueue: env.Temporal.TaskQueue}
}

// ctlReplication is a Manual replication between the test clusters that
// copies no resources and no data: a run that completes at once.
func ctlReplication(name, sourceNamespace string, mutate ...func(*drv1.Replication)) *drv1.Replication {
	r := &drv1.Replication{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: name},
		Spec: drv1.ReplicationSpec{
			SourceCluster: "source", DestinationCluster: "dr", SourceNamespace: sourceNamespace,
			ReplicationMode: drv1.ModeManual,
			PVCConfig:       &drv1.PVCConfig{SyncData: false},
		},
	}
	for _, m := range mutate {
		m(r)
	}
	return r
}

func ctlRef(r *drv1.Replication) contract.ObjectRef {
	return contract.ObjectRef{Namespace: r.Namespace, Name: r.Name}
}

// ctlGet reads the Replication fresh from the API server.
func ctlGet(t *testing.T, env *testenv.Env, r *drv1.Replication) *drv1.Replication {
	t.Helper()
	var got drv1.Replication
	require.NoError(t, env.DR.Client.Get(context.Background(), client.ObjectKeyFromObject(r), &got))
	return &got
}

// ctlWaitStatus waits until check accepts the Replication's status and
// returns that Replication.
func ctlWaitStatus(t *testing.T, env *testenv.Env, r *drv1.Replication, what string, check func(*drv1.Replication) bool) *drv1.Replication {
	t.Helper()
	var last atomic.Pointer[drv1.Replication]
	if !assert.Eventually(t, func() bool {
		got := ctlGet(t, env, r)
		last.Store(got)
		return check(got)
	}, 60*time.Second, 200*time.Millisecond) {
		got := last.Load()
		require.NotNil(t, got)
		t.Fatalf("Replication %s never reached %s; status: %+v", r.Name, what, got.Status)
	}
	return last.Load()
}

func ctlSynced(r *drv1.Replication) *metav1.Condition {
	return meta.FindStatusCondition(r.Status.Conditions, drv1.ConditionSynced)
}

func ctlHasReason(reason string) func(*drv1.Replication) bool {
	return func(r *drv1.Replication) bool {
		c := ctlSynced(r)
		return c != nil && c.Reason == reason && c.ObservedGeneration == r.Generation
	}
}

// ctlSetSyncNow sets the sync-now annotation, as `kubectl annotate` does.
func ctlSetSyncNow(t *testing.T, env *testenv.Env, r *drv1.Replication, value string) {
	t.Helper()
	got := ctlGet(t, env, r)
	patch := client.MergeFrom(got.DeepCopy())
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	got.Annotations[drv1.AnnotationSyncNow] = value
	require.NoError(t, env.DR.Client.Patch(context.Background(), got, patch))
}

// ctlRuns waits until visibility lists want runs of the Replication that
// satisfy done, and returns them.
func ctlRuns(t *testing.T, env *testenv.Env, r *drv1.Replication, want int, done func(starter.Run) bool) []starter.Run {
	t.Helper()
	var last atomic.Pointer[[]starter.Run]
	if !assert.Eventually(t, func() bool {
		runs, err := ctlStarter(env).History(context.Background(), ctlRef(r), 100)
		if err != nil {
			return false
		}
		last.Store(&runs)
		if len(runs) != want {
			return false
		}
		for _, run := range runs {
			if !done(run) {
				return false
			}
		}
		return true
	}, 60*time.Second, 200*time.Millisecond) {
		t.Fatalf("want %d runs of %s, visibility lists %+v", want, r.Name, last.Load())
	}
	return *last.Load()
}

func ctlClosed(r starter.Run) bool { return !r.Close.IsZero() }

// ctlEventReasons lists the reasons of the Events recorded on the Replication.
func ctlEventReasons(t *testing.T, env *testenv.Env, r *drv1.Replication) map[string]bool {
	t.Helper()
	var list eventsv1.EventList
	require.NoError(t, env.DR.Client.List(context.Background(), &list, client.InNamespace(r.Namespace)))
	reasons := map[string]bool{}
	for _, e := range list.Items {
		if e.Regarding.Name == r.Name && e.Regarding.Kind == "Replication" {
			reasons[e.Reason] = true
		}
	}
	return reasons
}

// ctlEvents lists the Events with reason recorded on the Replication.
func ctlEvents(t *testing.T, env *testenv.Env, r *drv1.Replication, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	require.NoError(t, env.DR.Client.List(context.Background(), &list, client.InNamespace(r.Namespace)))
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == r.Name && e.Regarding.Kind == "Replication" && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// ctlWaitEvents waits for events with each of want on r: the recorder
// writes them in the background, after the status that reports the same.
func ctlWaitEvents(t *testing.T, env *testenv.Env, r *drv1.Replication, want ...string) {
	t.Helper()
	var seen map[string]bool
	ok := assert.Eventually(t, func() bool {
		seen = ctlEventReasons(t, env, r)
		for _, reason := range want {
			if !seen[reason] {
				return false
			}
		}
		return true
	}, 30*time.Second, 200*time.Millisecond)
	if !ok {
		t.Errorf("events of %s/%s: want reasons %v, have %v", r.Namespace, r.Name, want, seen)
	}
}
