//go:build bench

// Package resources benchmarks resource replication (issue 7, make
// bench-resources): a source namespace of 1,000 ConfigMaps, 200 Secrets, 100
// Deployments and 100 Services is replicated by the ReplicateResources
// workflow, on a real Temporal dev server and worker, between two real
// (envtest) API servers. It reports the first sync's time, a no-change
// resync's time and the API requests each issued, by cluster, verb and
// resource.
//
//	go test -tags bench -run '^$' -bench Resources -benchtime 1x ./test/bench/resources/
package resources

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/worker"
)

const (
	configMaps  = 1000
	secrets     = 200
	deployments = 100
	services    = 100
)

func BenchmarkResources(b *testing.B) {
	env := testenv.Start(b)
	counter := &requestCounter{counts: map[string]int{}}
	runWorker(b, env, counter)
	const src = "bench"
	seed(b, env.Source.Config, src)

	for i := 0; i < b.N; i++ {
		plan := benchPlan(b, env, src, fmt.Sprintf("bench-dr-%d", i))

		counter.reset()
		first, firstRes := timedSync(b, env, plan, "first")
		firstRequests := counter.snapshot()

		counter.reset()
		resync, resyncRes := timedSync(b, env, plan, "resync")
		resyncRequests := counter.snapshot()

		if firstRes.Synced != configMaps+secrets+deployments+services || firstRes.Failed != 0 {
			b.Fatalf("first sync: %d synced, %d failed", firstRes.Synced, firstRes.Failed)
		}
		if resyncRes.Changed {
			b.Fatalf("the no-change resync wrote to DR")
		}
		b.ReportMetric(first.Seconds(), "first-sync-s")
		b.ReportMetric(resync.Seconds(), "resync-s")
		b.ReportMetric(100*resync.Seconds()/first.Seconds(), "resync-%-of-first")
		b.ReportMetric(float64(total(firstRequests)), "first-requests")
		b.ReportMetric(float64(total(resyncRequests)), "resync-requests")
		report(first, resync, firstRequests, resyncRequests)
		steps(b, env, "bench/"+plan.DestinationNamespace+"/resync")
	}
}

// steps prints how long each activity of a run took, from schedule to close,
// so a slow resync shows where its time goes.
func steps(b *testing.B, env *testenv.Env, workflowID string) {
	ctx := context.Background()
	iter := env.Temporal.Client.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]*historypb.HistoryEvent{}
	fmt.Println("\nresync steps (scheduled to closed):")
	var start time.Time
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			b.Fatalf("history of %s: %v", workflowID, err)
		}
		if start.IsZero() {
			start = ev.GetEventTime().AsTime()
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = ev
			continue
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			s := scheduled[a.GetScheduledEventId()]
			fmt.Printf("  +%-8s %-16s %s\n", s.GetEventTime().AsTime().Sub(start).Round(time.Millisecond),
				s.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(),
				ev.GetEventTime().AsTime().Sub(s.GetEventTime().AsTime()).Round(time.Millisecond))
		}
	}
}

// benchPlan is the plan of a Replication of namespace src into dst, made
// in the control cluster: the object steps check their plan against it.
func benchPlan(b *testing.B, env *testenv.Env, src, dst string) contract.ReplicationPlan {
	return testenv.ReplicationPlan(b, env.DR.Client, dst, drv1.ReplicationSpec{SourceCluster: "source", DestinationCluster: "dr",
		ReplicationMode: drv1.ModeManual, SourceNamespace: src, DestinationNamespace: dst, ResourceTypes: []string{"*"}}, nil)
}

func timedSync(b *testing.B, env *testenv.Env, plan contract.ReplicationPlan, name string) (time.Duration, contract.ResourcesResult) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	run, err := env.Temporal.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "bench/" + plan.DestinationNamespace + "/" + name, TaskQueue: env.Temporal.TaskQueue,
	}, contract.ReplicateResourcesName, plan)
	if err != nil {
		b.Fatalf("start %s sync: %v", name, err)
	}
	var res contract.ResourcesResult
	if err := run.Get(ctx, &res); err != nil {
		b.Fatalf("%s sync: %v", name, err)
	}
	return time.Since(start), res
}

// runWorker runs a worker whose cluster clients count their requests.
func runWorker(b *testing.B, env *testenv.Env, counter *requestCounter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	clusters := countingClusters{Clusters: kube.NewClusters(env.DR.Client, kube.KubeconfigPolicy{}), counter: counter}
	go func() {
		done <- worker.Run(ctx, env.Temporal.Client, worker.Dependencies{Clusters: clusters, Control: env.DR.Client},
			worker.Options{TaskQueue: env.Temporal.TaskQueue})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("worker: %v", err)
		}
	})
}

// seed fills the source namespace, in parallel, through a client of its own.
func seed(b *testing.B, cfg *rest.Config, ns string) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 2000, 2000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(32)
	meta := func(kind string, i int) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: fmt.Sprintf("%s-%04d", kind, i), Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%100)}}
	}
	for i := 0; i < configMaps; i++ {
		g.Go(func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta("cm", i),
				Data: map[string]string{"app.properties": strings.Repeat(fmt.Sprintf("key%d=value\n", i), 20)}}, metav1.CreateOptions{})
			return err
		})
	}
	for i := 0; i < secrets; i++ {
		g.Go(func() error {
			_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: meta("secret", i),
				StringData: map[string]string{"password": fmt.Sprintf("pw-%d", i)}}, metav1.CreateOptions{})
			return err
		})
	}
	for i := 0; i < deployments; i++ {
		g.Go(func() error {
			m := meta("deploy", i)
			sel := map[string]string{"app": m.Name}
			replicas := int32(3)
			_, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: m, Spec: appsv1.DeploymentSpec{
				Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: sel},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1",
						Env: []corev1.EnvVar{{Name: "CONFIG", Value: fmt.Sprintf("cm-%04d", i)}}}}}},
			}}, metav1.CreateOptions{})
			return err
		})
	}
	for i := 0; i < services; i++ {
		g.Go(func() error {
			m := meta("svc", i)
			_, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: m, Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": fmt.Sprintf("deploy-%04d", i)},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
			}}, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("seed source namespace: %v", err)
	}
}

// countingClusters hands out cluster configs whose transports count requests.
type countingClusters struct {
	*kube.Clusters
	counter *requestCounter
}

func (c countingClusters) Config(ctx context.Context, namespace, name string) (*rest.Config, error) {
	cfg, err := c.Clusters.Config(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return countingTransport{next: rt, counter: c.counter, cluster: name}
	})
	return cfg, nil
}

type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int // "cluster verb resource"
}

func (c *requestCounter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

func (c *requestCounter) reset() {
	c.mu.Lock()
	c.counts = map[string]int{}
	c.mu.Unlock()
}

func (c *requestCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

type countingTransport struct {
	next    http.RoundTripper
	counter *requestCounter
	cluster string
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, resource := classify(req)
	t.counter.add(t.cluster + " " + verb + " " + resource)
	return t.next.RoundTrip(req)
}

// classify names a request the way API server audit logs do: list vs get by
// whether the path names an object; apply is a PATCH.
func classify(req *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// /api/v1/... or /apis/group/version/...
	rest := parts
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	}
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) > 2 {
		rest = rest[2:]
	}
	named := len(rest) >= 2
	if len(rest) > 0 {
		resource = rest[0]
	}
	switch req.Method {
	case http.MethodGet:
		verb = "list"
		if named {
			verb = "get"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = strings.ToLower(req.Method)
	}
	return verb, resource
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func report(first, resync time.Duration, firstReq, resyncReq map[string]int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nnamespace: %d ConfigMaps, %d Secrets, %d Deployments, %d Services\n", configMaps, secrets, deployments, services)
	fmt.Fprintf(w, "first sync:\t%s\t%d requests\n", first.Round(time.Millisecond), total(firstReq))
	fmt.Fprintf(w, "no-change resync:\t%s (%.1f%% of first)\t%d requests\n", resync.Round(time.Millisecond), 100*resync.Seconds()/first.Seconds(), total(resyncReq))
	keys := map[string]bool{}
	for k := range firstReq {
		keys[k] = true
	}
	for k := range resyncReq {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	fmt.Fprintf(w, "\ncluster verb resource\tfirst\tresync\n")
	for _, k := range sorted {
		fmt.Fprintf(w, "%s\t%d\t%d\n", k, firstReq[k], resyncReq[k])
	}
	w.Flush()
}
