// Command controller turns dr-syncer's custom resources into Temporal
// workflow starts and Schedules.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/cmdutil"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/starter"
)

func main() {
	cliutil.Exit("controller", run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) error {
	fs, common := cmdutil.NewFlags("controller", stderr, ":8080")
	probeAddr := fs.String("health-probe-addr", cliutil.Env("DRSYNCER_HEALTH_PROBE_ADDR", ":8081"), "address of the /healthz and /readyz probes (env DRSYNCER_HEALTH_PROBE_ADDR)")
	leaderElect := fs.Bool("leader-elect", false, "elect one active controller among replicas")
	leaderNamespace := fs.String("leader-election-namespace", cliutil.Env("POD_NAMESPACE", ""), "namespace of the leader-election lease; empty is the in-cluster namespace (env POD_NAMESPACE)")
	watchNamespaces := fs.String("watch-namespaces", cliutil.Env("DRSYNCER_WATCH_NAMESPACES", ""),
		"comma-separated namespaces whose Replications, ClusterMappings and RemoteClusters are reconciled, besides the system namespace; "+
			"empty watches every namespace. Set it when the RBAC grants Secret access only in these namespaces (env DRSYNCER_WATCH_NAMESPACES)")
	webUI := fs.String("temporal-ui", cliutil.Env("DRSYNCER_TEMPORAL_UI", starter.DefaultWebUI),
		"base URL of the Temporal Web UI, for the run links in each Replication's status (env DRSYNCER_TEMPORAL_UI)")
	cliutil.Usage(fs, "controller: reconciles RemoteCluster, ClusterMapping and Replication resources into Temporal workflows and Schedules.\n\n"+
		"Usage: controller [flags]")
	if done, err := cmdutil.Parse(fs, args); done {
		return err
	}

	logger, err := common.Logger()
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	ctrl.SetLogger(telemetry.Logr(logger))
	metrics := telemetry.NewMetricsIn("drsyncer_controller", ctrlmetrics.Registry)
	defer func() { _ = metrics.Close() }()

	restConfig, err := common.RESTConfig()
	if err != nil {
		return err
	}
	s, err := starter.Connect(common.Temporal, telemetry.TemporalLogger(logger), metrics.TemporalHandler())
	if err != nil {
		return err
	}
	defer s.Client.Close()

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  kube.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr(common.MetricsAddr)},
		HealthProbeBindAddress:  *probeAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        "controller.dr-syncer.io",
		LeaderElectionNamespace: *leaderNamespace,
		Cache:                   cache.Options{DefaultNamespaces: cacheNamespaces(*watchNamespaces, common.SystemNamespace())},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	// Runs and Schedules name their source → destination in the Web UI.
	s.Routes = func(ctx context.Context, ref contract.ObjectRef) string {
		return resolve.Route(ctx, mgr.GetClient(), common.SystemNamespace(), ref)
	}
	if err := setupReconcilers(mgr, s, common.Kubeconfigs, common.SystemNamespace(), *webUI); err != nil {
		return err
	}
	// Served with controller-runtime's own metrics, on the manager's metrics address.
	if err := ctrlmetrics.Registry.Register(&controller.MetricsCollector{Reader: mgr.GetClient(), Log: mgr.GetLogger().WithName("metrics")}); err != nil {
		return fmt.Errorf("register the Replication and RemoteCluster metrics: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("temporal", temporalReachable(s.Client)); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	logger.Info("controller starting", zap.String("temporal", common.Temporal.Address), zap.String("namespace", common.Temporal.Namespace))
	return mgr.Start(ctrl.SetupSignalHandler())
}

// setupReconcilers registers the reconcilers with the manager.
func setupReconcilers(mgr ctrl.Manager, s *starter.Starter, kubeconfigs kube.KubeconfigPolicy, system, webUI string) error {
	replications := &controller.ReplicationReconciler{
		Client:          mgr.GetClient(),
		APIReader:       mgr.GetAPIReader(),
		Kubeconfigs:     kubeconfigs,
		SystemNamespace: system,
		Temporal:        s,
		Recorder:        mgr.GetEventRecorder("dr-syncer-controller"),
		Watches:         &controller.SourceWatches{Signal: s.SignalChange, Log: mgr.GetLogger().WithName("source-watch")},
		RunLink: func(workflowID, runID string) string {
			return starter.WebUILink(webUI, s.Namespace, workflowID, runID)
		},
	}
	if err := replications.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Replication reconciler: %w", err)
	}
	clusters := &controller.RemoteClusterReconciler{
		Client:          mgr.GetClient(),
		APIReader:       mgr.GetAPIReader(),
		Kubeconfigs:     kubeconfigs,
		SystemNamespace: system,
		Temporal:        s,
		// The controller probes health itself: status must say whether the
		// cluster is reachable even when no worker is running.
		Prober:   kube.NewClusters(mgr.GetAPIReader(), kubeconfigs),
		Recorder: mgr.GetEventRecorder("dr-syncer-controller"),
	}
	if err := clusters.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up RemoteCluster reconciler: %w", err)
	}
	mappings := &controller.ClusterMappingReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Temporal: s, SystemNamespace: system}
	if err := mappings.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up ClusterMapping reconciler: %w", err)
	}
	return nil
}

// cacheNamespaces restricts the controller's cache, hence its watches, to
// the namespaces listed and the system namespace; nil (every namespace)
// when none is listed. With the per-namespace RBAC of
// hack/namespace-rbac, a namespace not listed holds nothing the
// controller could reconcile.
func cacheNamespaces(list, system string) map[string]cache.Config {
	namespaces := map[string]cache.Config{}
	for _, ns := range strings.Split(list, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			namespaces[ns] = cache.Config{}
		}
	}
	if len(namespaces) == 0 {
		return nil
	}
	if system != "" {
		namespaces[system] = cache.Config{}
	}
	return namespaces
}

// temporalReachable makes the controller unready while Temporal is down, since
// it can then neither start nor observe syncs.
func temporalReachable(tc client.Client) healthz.Checker {
	return func(req *http.Request) error {
		_, err := tc.CheckHealth(req.Context(), &client.CheckHealthRequest{})
		if err != nil {
			return fmt.Errorf("temporal: %w", err)
		}
		return nil
	}
}

// metricsAddr maps the shared "empty disables" convention onto controller-runtime's "0".
func metricsAddr(addr string) string {
	if addr == "" {
		return "0"
	}
	return addr
}
