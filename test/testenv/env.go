package testenv

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
	"github.com/dr-syncer/dr-syncer/worker"
)

// ControlNamespace is where tests keep RemoteClusters and Replications.
const ControlNamespace = "dr-syncer-system"

// Env is a Temporal dev server plus a source and a DR API server. The DR
// cluster also holds dr-syncer's own resources, as it would in production.
type Env struct {
	Temporal *Temporal
	Source   *Cluster
	DR       *Cluster
}

// Start brings up Temporal and both API servers in parallel, registers the
// clusters as RemoteClusters "source" and "dr" in ControlNamespace on the DR
// cluster, and tears everything down when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	env := &Env{}
	var wg sync.WaitGroup
	start := func(f func(tb testing.TB)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(goroutineTB{t})
		}()
	}
	start(func(tb testing.TB) { env.Temporal = StartTemporal(tb) })
	start(func(tb testing.TB) { env.Source = StartCluster(tb, "source") })
	start(func(tb testing.TB) { env.DR = StartCluster(tb, "dr") })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	env.DR.RegisterRemoteCluster(t, ControlNamespace, env.Source)
	env.DR.RegisterRemoteCluster(t, ControlNamespace, env.DR)
	return env
}

// StartWorker runs a dr-syncer worker against the environment until the test ends.
func (e *Env) StartWorker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, e.Temporal.Client, worker.Dependencies{Clusters: kube.NewClusters(e.DR.Client, kube.KubeconfigPolicy{}), Control: e.DR.Client},
			worker.Options{TaskQueue: e.Temporal.TaskQueue})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("worker did not stop within 30s")
		}
	})
}

// goroutineTB lets a helper running off the test goroutine fail the test:
// FailNow there would only end that goroutine, so it records the failure and
// the caller checks t.Failed after joining.
type goroutineTB struct{ testing.TB }

func (g goroutineTB) Fatal(args ...any) {
	g.TB.Helper()
	g.TB.Error(args...)
	runtime.Goexit()
}

func (g goroutineTB) Fatalf(format string, args ...any) {
	g.TB.Helper()
	g.TB.Errorf(format, args...)
	runtime.Goexit()
}

func (g goroutineTB) FailNow() {
	g.TB.Fail()
	runtime.Goexit()
}

// Lab attaches to the local two-cluster lab (`make lab-up`), failing the
// test with how to start it when it is not up.
func Lab(t testing.TB) *lab.Lab { return lab.Attach(t) }
