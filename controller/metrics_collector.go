package controller

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// collectTimeout bounds one scrape's reads of the cache.
const collectTimeout = 5 * time.Second

var (
	replicationLabels   = []string{"replication_namespace", "replication"}
	remoteClusterLabels = []string{"remotecluster_namespace", "remotecluster"}

	descLastSuccess = prometheus.NewDesc("drsyncer_controller_replication_last_success_timestamp_seconds",
		"Unix time the Replication's last successful sync finished (status.lastSyncTime); absent until one has.", replicationLabels, nil)
	descRPO = prometheus.NewDesc("drsyncer_controller_replication_rpo_seconds",
		"Seconds of source writes the DR copy may lack: now minus the source time of the last good copy "+
			"(its snapshot, else the start of the last successful sync); the Replication's age when it never synced.", replicationLabels, nil)
	descInterval = prometheus.NewDesc("drsyncer_controller_replication_interval_seconds",
		"The Replication's sync interval: the longest gap of its cron schedule, or the Continuous background interval; absent for Manual.", replicationLabels, nil)
	descFailures = prometheus.NewDesc("drsyncer_controller_replication_consecutive_failures",
		"Runs that failed since the Replication's last successful sync.", replicationLabels, nil)
	descPhase = prometheus.NewDesc("drsyncer_controller_replication_phase",
		"1 for the Replication's current phase, 0 for every other phase.", append(replicationLabels, "phase"), nil)
	descAgentDesired = prometheus.NewDesc("drsyncer_controller_agent_desired_nodes",
		"Nodes of the RemoteCluster that should run the dr-syncer agent.", remoteClusterLabels, nil)
	descAgentReady = prometheus.NewDesc("drsyncer_controller_agent_ready_nodes",
		"Nodes of the RemoteCluster whose dr-syncer agent is ready.", remoteClusterLabels, nil)
)

// MetricsCollector exports the state of Replications and RemoteClusters,
// computed at scrape time from the controller's cache. A Collector rather
// than tally gauges: a deleted object's series must go with it, and tally
// cannot drop a series.
type MetricsCollector struct {
	// Reader is the manager's cached client; a scrape costs no API call.
	Reader client.Reader
	// Log receives the reads that failed; that scrape then lacks their series.
	Log logr.Logger
	// Now is the clock of the RPO; nil is time.Now.
	Now   func() time.Time
	crons cronIntervals
}

var _ prometheus.Collector = (*MetricsCollector)(nil)

// Describe sends every metric's description.
func (c *MetricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSuccess, descRPO, descInterval, descFailures, descPhase, descAgentDesired, descAgentReady} {
		ch <- d
	}
}

// Collect sends the series of every cached Replication and RemoteCluster.
func (c *MetricsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	var clusters drv1.RemoteClusterList
	if err := c.Reader.List(ctx, &clusters); err != nil {
		c.Log.Error(err, "metrics: list RemoteClusters")
	}
	defaults := map[types.NamespacedName]drv1.Cron{}
	for i := range clusters.Items {
		rc := &clusters.Items[i]
		defaults[types.NamespacedName{Namespace: rc.Namespace, Name: rc.Name}] = rc.Spec.DefaultSchedule
		if a := rc.Status.Agent; a != nil {
			ch <- prometheus.MustNewConstMetric(descAgentDesired, prometheus.GaugeValue, float64(a.TotalNodes), rc.Namespace, rc.Name)
			ch <- prometheus.MustNewConstMetric(descAgentReady, prometheus.GaugeValue, float64(a.ReadyNodes), rc.Namespace, rc.Name)
		}
	}
	var repls drv1.ReplicationList
	if err := c.Reader.List(ctx, &repls); err != nil {
		c.Log.Error(err, "metrics: list Replications")
		return
	}
	at := now()
	for i := range repls.Items {
		r := &repls.Items[i]
		c.collectReplication(ch, r, defaults[c.sourceCluster(ctx, r)], at)
	}
}

func (c *MetricsCollector) collectReplication(ch chan<- prometheus.Metric, r *drv1.Replication, defaultSchedule drv1.Cron, now time.Time) {
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{r.Namespace, r.Name}, extra...)...)
	}
	st := &r.Status
	if st.LastSyncTime != nil {
		gauge(descLastSuccess, float64(st.LastSyncTime.Unix()))
	}
	gauge(descRPO, rpo(r, now).Seconds())
	if d, ok := replicationInterval(&r.Spec, defaultSchedule, &c.crons); ok {
		gauge(descInterval, d.Seconds())
	}
	var failures int32
	if st.SyncStats != nil {
		failures = st.SyncStats.ConsecutiveFailures
	}
	gauge(descFailures, float64(failures))
	for phase, v := range phaseOneHot(st.Phase) {
		gauge(descPhase, v, string(phase))
	}
}

// sourceCluster is the key of the Replication's source RemoteCluster, as
// internal/resolve follows it: its own sourceCluster, or its
// ClusterMapping's. Empty when the mapping is not in the cache.
func (c *MetricsCollector) sourceCluster(ctx context.Context, r *drv1.Replication) types.NamespacedName {
	name := r.Spec.SourceCluster
	if ref := r.Spec.ClusterMappingRef; ref != nil {
		key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		if key.Namespace == "" {
			key.Namespace = r.Namespace
		}
		var m drv1.ClusterMapping
		if err := c.Reader.Get(ctx, key, &m); err != nil {
			return types.NamespacedName{}
		}
		name = m.Spec.SourceCluster
	}
	return types.NamespacedName{Namespace: r.Namespace, Name: name}
}
