// Command worker runs dr-syncer's Temporal workflows and activities.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/cmdutil"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/payloadcodec"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/worker"
)

func main() {
	cliutil.Exit("worker", run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) error {
	fs, common := cmdutil.NewFlags("worker", stderr, ":9090")
	maxActivities := fs.Int("max-concurrent-activities", 0, "activities this worker runs at once, and as many local ones (the short API steps of PVC syncs); 0 is the SDK default")
	batchPodsDefault, err := cliutil.EnvBool("DRSYNCER_BATCH_PODS", true)
	if err != nil {
		return fmt.Errorf("%w; it sets --batch-pods", err)
	}
	batchPods := fs.Bool("batch-pods", batchPodsDefault,
		"let the PVC syncs of a run that share a node pair share one mount pod and one sync pod; concurrentSyncs then bounds the syncs moving data, as many more prepare meanwhile, the next full batch's mount pod starts, held, while the current one moves data (staged batches hold permits: give the source cluster a globalConcurrencyLimit of at least twice concurrentSyncs), and no batch holds more claims than its nodes may still attach of their CSI drivers (the remote identity needs get on csinodes and list on volumeattachments), nor more movers than the DR node's free CPU and memory take; --batch-pods=false gives every PVC sync its own pods (env DRSYNCER_BATCH_PODS)")
	var codecEndpoint payloadcodec.Endpoint
	codecEndpoint.RegisterFlags(fs)
	pods := registerPodFlags(fs)
	cliutil.Usage(fs, "worker: polls the dr-syncer task queue and runs its workflows and activities.\n\n"+
		"Usage: worker [flags]\n\n"+
		"It reads RemoteClusters and their kubeconfig Secrets from the cluster that --kubeconfig points at.")
	if done, err := cmdutil.Parse(fs, args); done {
		return err
	}

	podSettings, err := pods.settings()
	if err != nil {
		return err
	}
	logger, err := common.Logger()
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	metrics, err := telemetry.NewMetrics(metricsPrefix)
	if err != nil {
		return err
	}
	defer func() { _ = metrics.Close() }()
	if err := registerKubeRequests(metrics); err != nil {
		return err
	}

	restConfig, err := common.RESTConfig()
	if err != nil {
		return err
	}
	reader, err := client.New(restConfig, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return fmt.Errorf("client for the dr-syncer resources' cluster: %w", err)
	}
	// The endpoint serves the very codec the client encrypts with.
	var codec *payloadcodec.Codec
	if common.Temporal.CodecKeyFile != "" {
		if codec, err = common.Temporal.Codec(); err != nil {
			return err
		}
	}
	tc, err := common.Temporal.Dial(telemetry.TemporalLogger(logger), metrics.TemporalHandler())
	if err != nil {
		return err
	}
	defer tc.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("worker starting", zap.String("temporal", common.Temporal.Address), zap.String("namespace", common.Temporal.Namespace), zap.String("taskQueue", common.Temporal.TaskQueue),
		zap.Bool("payloadCodec", codec != nil), zap.String("codecEndpoint", codecEndpoint.Addr))
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics.Serve(ctx, common.MetricsAddr) })
	g.Go(func() error { return codecEndpoint.Serve(ctx, codec) })
	g.Go(func() error {
		return worker.Run(ctx, tc, worker.Dependencies{Clusters: kube.NewClusters(reader, common.Kubeconfigs).ReuseFor(kube.ClusterReuse), Control: reader, Pods: podSettings, SystemNamespace: common.SystemNamespace(),
			Metrics: metrics.Scope, BatchPods: *batchPods},
			worker.Options{TaskQueue: common.Temporal.TaskQueue, MaxConcurrentActivities: *maxActivities})
	})
	return g.Wait()
}
