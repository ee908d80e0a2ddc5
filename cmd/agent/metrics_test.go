package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
)

// The agent's /metrics carries the contract's names, types and labels,
// read from the server's figures at scrape time.
func TestAgentMetricsServeTheContract(t *testing.T) {
	stats := agent.Stats{Accepted: 7, Refused: 2, ActiveConnections: 3, ActiveChannels: 12}
	h, err := agentMetrics(func() agent.Stats { return stats })
	require.NoError(t, err)
	families := metricstest.Scrape(t, h)

	conns := families["drsyncer_agent_connections_total"]
	require.NotNil(t, conns)
	assert.Equal(t, dto.MetricType_COUNTER, conns.GetType())
	assert.Equal(t, []string{"result"}, metricstest.LabelNames(conns))
	for result, want := range map[string]float64{"accepted": 7, "refused": 2} {
		v, ok := metricstest.Value(conns, map[string]string{"result": result})
		require.True(t, ok, result)
		assert.Equal(t, want, v, result)
	}
	for name, want := range map[string]float64{"drsyncer_agent_connections_active": 3, "drsyncer_agent_channels_active": 12} {
		f := families[name]
		require.NotNil(t, f, name)
		assert.Equal(t, dto.MetricType_GAUGE, f.GetType(), name)
		assert.Empty(t, metricstest.LabelNames(f), name)
		v, _ := metricstest.Value(f, nil)
		assert.Equal(t, want, v, name)
	}

	stats.Accepted++ // read at scrape time
	v, _ := metricstest.Value(metricstest.Scrape(t, h)["drsyncer_agent_connections_total"], map[string]string{"result": "accepted"})
	assert.Equal(t, 8.0, v)
	assert.Contains(t, families, "go_goroutines")
}

// A fresh agent, before any connection, already serves every agent series
// deploy/prometheus/metrics.txt lists (the lab test looks for each in a live
// scrape, and rate() needs the 0 a counter starts from), with both results
// of the connection counter at 0.
func TestAgentMetricsExistBeforeAnyConnection(t *testing.T) {
	h, err := agentMetrics(func() agent.Stats { return agent.Stats{} })
	require.NoError(t, err)
	families := metricstest.Scrape(t, h)
	for _, result := range []string{"accepted", "refused"} {
		v, ok := metricstest.Value(families["drsyncer_agent_connections_total"], map[string]string{"result": result})
		assert.True(t, ok, "no %s series before the first connection", result)
		assert.Zero(t, v, result)
	}

	listed, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "metrics.txt"))
	require.NoError(t, err)
	types := map[string]dto.MetricType{"counter": dto.MetricType_COUNTER, "gauge": dto.MetricType_GAUGE}
	n := 0
	for _, line := range strings.Split(string(listed), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[0], "drsyncer_agent_") {
			continue
		}
		n++
		if assert.Contains(t, families, f[0], "metrics.txt lists it") {
			assert.Equal(t, types[f[1]], families[f[0]].GetType(), f[0])
		}
	}
	assert.Equal(t, 3, n, "metrics.txt lists the agent's three series")
}

// A metrics port taken on the node must not take the agent down with it:
// serveMetrics logs what to change and returns, and the SSH service starts.
func TestServeMetricsOnATakenPortIsNotFatal(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	core, logs := observer.New(zap.ErrorLevel)
	h, err := agentMetrics(func() agent.Stats { return agent.Stats{} })
	require.NoError(t, err)

	serveMetrics(context.Background(), taken.Addr().String(), h, zap.New(core))
	require.Equal(t, 1, logs.Len())
	entry := logs.All()[0]
	assert.Contains(t, entry.Message, "spec.pvcSync.metrics.port")
	assert.Equal(t, taken.Addr().String(), entry.ContextMap()["metrics_addr"])
}
