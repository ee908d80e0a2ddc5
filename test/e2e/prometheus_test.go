//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestLabMetricsInPrometheus reads dr-syncer's metrics back from the lab's real
// Prometheus (hack/lab/prometheus.sh: it scrapes the deployed controller and
// worker, and every lab cluster's agents, every 2 s, with
// deploy/prometheus/rules.yaml loaded), as an operator's
// dashboards and alerts would:
//   - during the sync of a 1 GiB PVC filled to 1004 MiB (bandwidth-limited, so it lasts),
//     the transfer's bytes-done and progress series rise;
//   - afterwards the RPO drops, the last-success timestamp advances, the
//     transfer is no longer shown running, and prod's agent (scraped on its
//     node) has counted an accepted connection;
//   - `drsyncer status --watch` follows that run with progress bars to its
//     result;
//   - every series deploy/prometheus/metrics.txt lists (what the rules and the
//     dashboard may name) exists in the live scrape;
//   - with the worker stopped, DRSyncerWorkerNotPolling's expression, taken
//     from rules.yaml, becomes true.
func TestLabMetricsInPrometheus(t *testing.T) {
	app := fmt.Sprintf("drs-prom-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	srcPod := deployDemoApp(t, prod, app)
	kubectl(t, prod, "", "-n", app, "exec", srcPod, "--", "bash", "-c", "head -c 1048576000 /dev/urandom > /data/big.bin")
	applyDemoReplication(t, dr, root, app, appDR)
	// 64 MiB/s: about 16 s of transfer, several scrapes (every 2 s) of it.
	kubectl(t, dr, "", "-n", sys, "patch", "replication", app, "--type=merge", "-p", `{"spec":{"pvcConfig":{"dataSyncConfig":{"bandwidthLimit":65536}}}}`)
	repl := fmt.Sprintf(`replication_namespace=%q,replication=%q`, sys, app)

	// Before any sync: the RPO counts from the Replication's creation.
	var rpoBefore float64
	pollUntil(t, 60*time.Second, "the RPO series of a Replication never synced", func() (bool, string) {
		v, ok := promValue(t, "drsyncer_controller_replication_rpo_seconds{"+repl+"}")
		rpoBefore = v
		return ok && v > 0, fmt.Sprint(v, ok)
	})
	if _, ok := promValue(t, "drsyncer_controller_replication_last_success_timestamp_seconds{"+repl+"}"); ok {
		t.Errorf("last success timestamp of %s exported before any sync", app)
	}
	before := time.Now()

	// During the sync: bytes done rise while the transfer runs, and
	// `drsyncer status --watch` follows the run to its result.
	cli := buildCommand(t, "drsyncer")
	value := fmt.Sprint(time.Now().UnixNano())
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/sync-now="+value, "--overwrite")
	pollUntil(t, 60*time.Second, "the sync-now run open", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.syncNowHandled}|{.status.currentRun.workflowID}`)
		return strings.HasPrefix(st, value+"|") && !strings.HasSuffix(st, "|"), st
	})
	var watchOut strings.Builder
	watch := exec.Command(cli, "--temporal-address", temporalAddress(t, dr), "status", sys+"/"+app, "--watch", "--interval", "1s")
	watch.Stdout, watch.Stderr = &watchOut, &watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	var done []float64
	var size float64
	pollUntil(t, 150*time.Second, "Replication "+app+" Completed", func() (bool, string) {
		if v, ok := promValue(t, "max(drsyncer_worker_pvc_sync_done_bytes{"+repl+`,pvc="data"} and drsyncer_worker_pvc_sync_running{`+repl+`,pvc="data"} == 1)`); ok &&
			(len(done) == 0 || v != done[len(done)-1]) {
			done = append(done, v)
		}
		if v, ok := promValue(t, "max(drsyncer_worker_pvc_sync_size_bytes{"+repl+`,pvc="data"})`); ok && v > size {
			size = v
		}
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.syncNowHandled}|{.status.phase}`)
		if st == value+"|Failed" {
			t.Fatalf("Replication %s failed", app)
		}
		return st == value+"|Completed", st
	})
	t.Logf("bytes done as Prometheus saw them during the transfer: %v (of %.0f)", done, size)
	watchErr := waitTimeout(watch, 60*time.Second)
	t.Logf("drsyncer status --watch:\n%s", watchOut.String())
	if watchErr != nil {
		t.Errorf("drsyncer status --watch of a completed run: %v", watchErr)
	}
	if bars := progressBar.FindAllString(watchOut.String(), -1); len(bars) < 2 {
		t.Errorf("drsyncer status --watch printed %d progress bars, want at least two updates", len(bars))
	}
	if !strings.Contains(watchOut.String(), "✓ ") || !strings.Contains(watchOut.String(), " completed in ") {
		t.Errorf("drsyncer status --watch did not end with the run's result")
	}
	rising := 0
	for i := 1; i < len(done); i++ {
		if done[i] > done[i-1] && done[i-1] > 0 {
			rising++
		}
	}
	if rising < 1 {
		t.Errorf("drsyncer_worker_pvc_sync_done_bytes did not rise during the transfer: %v", done)
	}
	if size < 1000<<20 {
		t.Errorf("drsyncer_worker_pvc_sync_size_bytes peaked at %.0f, want the 1000 MiB written into the 1 GiB volume at least", size)
	}

	// After: the RPO dropped, the last success advanced, nothing shown running.
	pollUntil(t, 30*time.Second, "the RPO and last success of the finished sync", func() (bool, string) {
		last, okLast := promValue(t, "drsyncer_controller_replication_last_success_timestamp_seconds{"+repl+"}")
		rpo, okRPO := promValue(t, "drsyncer_controller_replication_rpo_seconds{"+repl+"}")
		grown := rpoBefore + time.Since(before).Seconds() // what it would be with no sync
		return okLast && okRPO && last >= float64(before.Unix()) && rpo < grown-1 && rpo <= time.Since(before).Seconds()+5,
			fmt.Sprintf("last success %.0f (sync asked at %d), RPO %.1fs (%.1fs without the sync)", last, before.Unix(), rpo, grown)
	})
	pollUntil(t, 30*time.Second, "the transfer shown as ended", func() (bool, string) {
		v, ok := promValue(t, "max(drsyncer_worker_pvc_sync_running{"+repl+`,pvc="data"})`)
		return ok && v == 0, fmt.Sprint(v, ok)
	})
	// The sync went through prod's agent, which the lab's Prometheus scrapes
	// on its node (hack/lab/prometheus.sh labels it cluster="prod").
	pollUntil(t, 30*time.Second, "prod's agent counting the sync's connection", func() (bool, string) {
		v, ok := promValue(t, `sum(drsyncer_agent_connections_total{cluster="prod",container="agent",result="accepted"})`)
		return ok && v > 0, fmt.Sprint(v, ok)
	})

	// Every series the rules and the dashboard may name is in the live scrape.
	// The interval exists for scheduled Replications only: schedule this one
	// (daily at 03:00, so no run starts during the test). The workers' empty
	// polls are counted once a long poll comes back empty, about a minute
	// after the worker started.
	kubectl(t, dr, "", "-n", sys, "patch", "replication", app, "--type=merge", "-p", `{"spec":{"replicationMode":"Scheduled","schedule":"0 3 * * *"}}`)
	listed := metricsList(t, root)
	pollUntil(t, 120*time.Second, "every series of deploy/prometheus/metrics.txt in the live scrape", func() (bool, string) {
		have := map[string]bool{}
		for _, name := range promNames(t) {
			have[name] = true
		}
		var missing []string
		for name, kind := range listed {
			if kind == "histogram" {
				name += "_count"
			}
			if !have[name] {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0, "missing " + strings.Join(missing, ", ")
	})
	if v, ok := promValue(t, "drsyncer_controller_replication_interval_seconds{"+repl+"}"); !ok || v != 86400 {
		t.Errorf("interval of a daily schedule: %v (exported %v), want 86400", v, ok)
	}

	// The worker stopped: the not-polling alert's own expression turns true.
	expr := alertExpr(t, root, "DRSyncerWorkerNotPolling")
	if _, ok := promValue(t, "count("+expr+")"); ok {
		t.Fatalf("DRSyncerWorkerNotPolling's expression is true while the worker runs")
	}
	kubectl(t, dr, "", "-n", sys, "scale", "deployment", "dr-syncer-worker", "--replicas=0")
	stopped := time.Now()
	pollUntil(t, 90*time.Second, "DRSyncerWorkerNotPolling's expression true with the worker stopped", func() (bool, string) {
		v, ok := promValue(t, "count("+expr+")")
		return ok && v > 0, fmt.Sprint(v, ok)
	})
	t.Logf("worker stopped: DRSyncerWorkerNotPolling's expression true after %.1fs", time.Since(stopped).Seconds())
}

// progressBar is one PVC's bar in `drsyncer status --watch`.
var progressBar = regexp.MustCompile(`\[[#-]+\] +[0-9.]+%`)

// waitTimeout waits for cmd to exit, killing it after timeout.
func waitTimeout(cmd *exec.Cmd, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running after %s: %w", timeout, <-done)
	}
}

// prometheusURL is the lab's Prometheus (hack/lab/prometheus.sh).
func prometheusURL() string {
	if port := os.Getenv("LAB_PROMETHEUS_PORT"); port != "" {
		return "http://127.0.0.1:" + port
	}
	return "http://127.0.0.1:9091"
}

// promQuery runs an instant query and returns its vector.
func promQuery(t *testing.T, query string) []promSample {
	t.Helper()
	resp, err := http.Get(prometheusURL() + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatalf("Prometheus query %s: %v (the lab's Prometheus starts with hack/lab/deploy.sh)", query, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("Prometheus query %s: %v %s", query, err, body.Error)
	}
	return body.Data.Result
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promValue is the value of a query that yields at most one sample.
func promValue(t *testing.T, query string) (float64, bool) {
	t.Helper()
	res := promQuery(t, query)
	if len(res) == 0 {
		return 0, false
	}
	if len(res) > 1 {
		t.Fatalf("Prometheus query %s: %d samples, want one", query, len(res))
	}
	s, _ := res[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("Prometheus query %s: value %q: %v", query, s, err)
	}
	return v, true
}

// promNames are the names of every drsyncer_ series Prometheus holds now.
func promNames(t *testing.T) []string {
	var names []string
	for _, s := range promQuery(t, `count by (__name__) ({__name__=~"drsyncer_.+"})`) {
		names = append(names, s.Metric["__name__"])
	}
	return names
}

// metricsList reads deploy/prometheus/metrics.txt: name → type.
func metricsList(t *testing.T, root string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "deploy/prometheus/metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			if f := strings.Fields(line); len(f) == 2 {
				out[f[0]] = f[1]
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("deploy/prometheus/metrics.txt lists no metric")
	}
	return out
}

// alertExpr is the expression of alert name in deploy/prometheus/rules.yaml.
func alertExpr(t *testing.T, root, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == name {
				return r.Expr
			}
		}
	}
	t.Fatalf("no alert %s in deploy/prometheus/rules.yaml", name)
	return ""
}
