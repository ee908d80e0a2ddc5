package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
)

// metricsPrefix names every series the worker exports.
const metricsPrefix = "drsyncer_worker"

// registerKubeRequests exports the worker's Kubernetes API requests
// (kube.Requests), read at scrape time, one series per method from the
// start on: the lab test finds each series metrics.txt lists in a live
// scrape, and rate() needs the 0 a counter starts from.
func registerKubeRequests(m *telemetry.Metrics) error {
	for _, method := range kube.RequestMethods {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: metricsPrefix + "_kube_requests_total", ConstLabels: prometheus.Labels{"method": method},
			Help: "Kubernetes API requests this worker sent, to the control cluster and every RemoteCluster, by HTTP method (GET includes watches; other is any method but GET, POST, PUT, PATCH and DELETE).",
		}, func() float64 { return float64(kube.Requests(method)) })
		if err := m.Register(c); err != nil {
			return fmt.Errorf("register kube request metrics: %w", err)
		}
	}
	return nil
}
