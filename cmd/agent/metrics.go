package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
)

// agentMetrics serves the agent's figures (agent.Stats), read at scrape
// time, with Go's and the process's; docs/agent-metrics.md lists them.
func agentMetrics(stats func() agent.Stats) (http.Handler, error) {
	registry := prometheus.NewRegistry()
	connections := func(result string, value func(agent.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "drsyncer_agent_connections_total", ConstLabels: prometheus.Labels{"result": result},
			Help: "SSH connections this agent accepted (logged in) or refused (over a limit, or a failed login or handshake).",
		}, func() float64 { return float64(value(stats())) })
	}
	for _, c := range []prometheus.Collector{
		connections("accepted", func(s agent.Stats) uint64 { return s.Accepted }),
		connections("refused", func(s agent.Stats) uint64 { return s.Refused }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drsyncer_agent_connections_active",
			Help: "Logged-in SSH connections open now; one per PVC sync reading from this node."},
			func() float64 { return float64(stats().ActiveConnections) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drsyncer_agent_channels_active",
			Help: "Forwarding channels open now, across all connections; one per rsync stream."},
			func() float64 { return float64(stats().ActiveChannels) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := registry.Register(c); err != nil {
			return nil, fmt.Errorf("register agent metrics: %w", err)
		}
	}
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{}), nil
}

// serveMetrics serves h at /metrics on addr until ctx is done; an empty
// addr serves nothing. The agent runs on the host network, so the port is
// the node's: it is off unless asked for. The rollout asks, at the
// RemoteCluster's spec.pvcSync.metrics.port (internal/agentdeploy).
//
// A port already taken on the node is logged, not fatal: the SSH service
// matters more than its metrics, and an agent that exits would stop every
// PVC sync from this node over a monitoring setting. The scrape then shows
// the target down, and the log says what to change.
func serveMetrics(ctx context.Context, addr string, h http.Handler, log *zap.Logger) {
	if addr == "" {
		return
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("cannot serve metrics; the agent serves SSH without them: choose a port free on every node in the RemoteCluster's spec.pvcSync.metrics.port, or set spec.pvcSync.metrics.enabled to false",
			zap.String("metrics_addr", addr), zap.Error(err))
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The SSH service matters more than its metrics: it keeps running.
			log.Error("metrics server stopped", zap.Error(err))
		}
	}()
}
