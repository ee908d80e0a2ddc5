package controller

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
)

// The controller's /metrics carries the contract's names, types and label
// sets, with the figures of each cached object, and forgets a deleted one.
func TestMetricsCollectorServesTheContract(t *testing.T) {
	synced := replication(drv1.ModeScheduled, func(r *drv1.Replication) {
		r.Name = "shop-db"
		r.Spec.SourceCluster, r.Spec.DestinationCluster = "", ""
		r.Spec.ClusterMappingRef = &drv1.ObjectRef{Name: "prod-to-dr"}
		r.Status = drv1.ReplicationStatus{Phase: drv1.PhaseFailed, LastSyncTime: at(now.Add(-20 * time.Minute)),
			LastSyncStartTime: at(now.Add(-25 * time.Minute)), SyncStats: &drv1.SyncStats{SuccessfulSyncs: 4, FailedSyncs: 3, ConsecutiveFailures: 2}}
	})
	manual := replication(drv1.ModeManual, func(r *drv1.Replication) {
		r.Name = "ledger"
		r.CreationTimestamp = metav1.NewTime(now.Add(-time.Hour))
	})
	mapping := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "prod-to-dr"},
		Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr"}}
	prod := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "prod"},
		Spec: drv1.RemoteClusterSpec{DefaultSchedule: "*/10 * * * *"}, Status: drv1.RemoteClusterStatus{Agent: &drv1.AgentStatus{ReadyNodes: 2, TotalNodes: 3}}}
	dr := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "dr"}} // no agent: no agent series
	cache := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(synced, manual, mapping, prod, dr).Build()

	registry := prometheus.NewPedanticRegistry() // also checks each series against Describe
	require.NoError(t, registry.Register(&MetricsCollector{Reader: cache, Log: logr.Discard(), Now: func() time.Time { return now }}))
	handler := promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	families := metricstest.Scrape(t, handler)

	replicationLabels := []string{"replication", "replication_namespace"}
	for name, labels := range map[string][]string{
		"drsyncer_controller_replication_last_success_timestamp_seconds": replicationLabels,
		"drsyncer_controller_replication_rpo_seconds":                    replicationLabels,
		"drsyncer_controller_replication_interval_seconds":               replicationLabels,
		"drsyncer_controller_replication_consecutive_failures":           replicationLabels,
		"drsyncer_controller_replication_phase":                          {"phase", "replication", "replication_namespace"},
		"drsyncer_controller_agent_desired_nodes":                        {"remotecluster", "remotecluster_namespace"},
		"drsyncer_controller_agent_ready_nodes":                          {"remotecluster", "remotecluster_namespace"},
	} {
		f := families[name]
		require.NotNil(t, f, "no %s on /metrics", name)
		assert.Equal(t, dto.MetricType_GAUGE, f.GetType(), name)
		assert.Equal(t, labels, metricstest.LabelNames(f), name)
	}
	assert.Len(t, families, 7, "nothing else")

	value := func(name string, labels map[string]string) (float64, bool) {
		return metricstest.Value(families[name], labels)
	}
	shop := map[string]string{"replication_namespace": "ops", "replication": "shop-db"}
	ledger := map[string]string{"replication_namespace": "ops", "replication": "ledger"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"drsyncer_controller_replication_last_success_timestamp_seconds", shop, float64(now.Add(-20 * time.Minute).Unix())},
		{"drsyncer_controller_replication_rpo_seconds", shop, (25 * time.Minute).Seconds()},
		{"drsyncer_controller_replication_interval_seconds", shop, (10 * time.Minute).Seconds()}, // the mapping's source cluster's default
		{"drsyncer_controller_replication_consecutive_failures", shop, 2},
		{"drsyncer_controller_replication_phase", map[string]string{"replication": "shop-db", "phase": "Failed"}, 1},
		{"drsyncer_controller_replication_phase", map[string]string{"replication": "shop-db", "phase": "Completed"}, 0},
		{"drsyncer_controller_replication_rpo_seconds", ledger, time.Hour.Seconds()},
		{"drsyncer_controller_replication_phase", map[string]string{"replication": "ledger", "phase": "Pending"}, 1},
		{"drsyncer_controller_agent_desired_nodes", map[string]string{"remotecluster_namespace": "ops", "remotecluster": "prod"}, 3},
		{"drsyncer_controller_agent_ready_nodes", map[string]string{"remotecluster_namespace": "ops", "remotecluster": "prod"}, 2},
	} {
		got, ok := value(c.name, c.labels)
		if assert.True(t, ok, "%s%v missing", c.name, c.labels) {
			assert.Equal(t, c.want, got, "%s%v", c.name, c.labels)
		}
	}
	for name, labels := range map[string]map[string]string{
		"drsyncer_controller_replication_last_success_timestamp_seconds": ledger, // never synced
		"drsyncer_controller_replication_interval_seconds":               ledger, // Manual
		"drsyncer_controller_agent_ready_nodes":                          {"remotecluster": "dr"},
	} {
		_, ok := value(name, labels)
		assert.False(t, ok, "%s%v should be absent", name, labels)
	}
	assert.Len(t, families["drsyncer_controller_replication_phase"].GetMetric(), 2*len(knownPhases))

	// A deleted Replication's series go with it.
	require.NoError(t, cache.Delete(context.Background(), manual))
	families = metricstest.Scrape(t, handler)
	_, ok := metricstest.Value(families["drsyncer_controller_replication_rpo_seconds"], ledger)
	assert.False(t, ok, "a deleted Replication leaves no RPO behind")
	_, ok = metricstest.Value(families["drsyncer_controller_replication_rpo_seconds"], shop)
	assert.True(t, ok)
}
