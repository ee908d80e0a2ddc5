package telemetry

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestTemporalLoggerKeepsFieldsAndLevels(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	l := TemporalLogger(zap.New(core)).(temporalLogger)
	l.With("WorkflowID", "replication/ns/r/1").Warn("activity failed", "attempt", 3)
	l.Debug("polling")

	entries := logs.All()
	require.Len(t, entries, 2)
	assert.Equal(t, zap.WarnLevel, entries[0].Level)
	assert.Equal(t, "activity failed", entries[0].Message)
	assert.Equal(t, map[string]any{"WorkflowID": "replication/ns/r/1", "attempt": int64(3)}, entries[0].ContextMap())
	assert.Equal(t, zap.DebugLevel, entries[1].Level)
}

func TestNewLoggerRejectsUnknownSettings(t *testing.T) {
	_, err := NewLogger(LogOptions{Level: "loud"})
	assert.ErrorContains(t, err, `log level "loud"`)
	_, err = NewLogger(LogOptions{Level: "info", Format: "xml"})
	assert.ErrorContains(t, err, `log format "xml": want json or console`)
}

func TestMetricsServesProjectAndTemporalMetrics(t *testing.T) {
	m, err := NewMetrics("drsyncer_test")
	require.NoError(t, err)
	m.Scope.Counter("bytes_synced").Inc(42)
	m.TemporalHandler().WithTags(map[string]string{"task_queue": "dr-syncer"}).Counter("temporal_workflow_completed").Inc(1)
	m.Scope.Tagged(map[string]string{"replication": "shop-db.v2", "bad-key": "a b"}).Gauge("pvc_sync_running").Update(1)
	require.NoError(t, m.Close()) // flushes the reporter

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	assert.Contains(t, string(body), "drsyncer_test_bytes_synced_total 42")
	assert.Contains(t, string(body), `drsyncer_test_temporal_workflow_completed_total{task_queue="dr-syncer"} 1`)
	// Kubernetes names stay as kubectl shows them; anything else is still replaced.
	assert.Contains(t, string(body), `drsyncer_test_pvc_sync_running{bad_key="a_b",replication="shop-db.v2"} 1`)
	assert.Contains(t, string(body), "go_goroutines")
}
