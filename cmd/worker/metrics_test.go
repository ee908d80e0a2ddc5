package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
)

const kubeRequests = "drsyncer_worker_kube_requests_total"

// Every method's series is there from the start, and a request a client
// sends shows in the next scrape. metrics.txt lists the series, so the lab
// test looks for it in a live scrape.
func TestKubeRequestsMetric(t *testing.T) {
	m, err := telemetry.NewMetrics(metricsPrefix)
	require.NoError(t, err)
	defer func() { _ = m.Close() }()
	require.NoError(t, registerKubeRequests(m))

	f := metricstest.Scrape(t, m.Handler())[kubeRequests]
	require.NotNil(t, f)
	assert.Equal(t, dto.MetricType_COUNTER, f.GetType())
	assert.Equal(t, []string{"method"}, metricstest.LabelNames(f))
	assert.Len(t, f.GetMetric(), len(kube.RequestMethods))
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "other"} {
		_, ok := metricstest.Value(f, map[string]string{"method": method})
		assert.True(t, ok, "no %s series before any request", method)
	}
	get, _ := metricstest.Value(f, map[string]string{"method": "GET"})

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"gitVersion":"v1.36.3"}`))
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(kube.WithClientLimits(&rest.Config{Host: srv.URL}))
	require.NoError(t, err)
	_, err = cs.Discovery().ServerVersion()
	require.NoError(t, err)
	after, _ := metricstest.Value(metricstest.Scrape(t, m.Handler())[kubeRequests], map[string]string{"method": "GET"})
	assert.Equal(t, get+1, after)

	listed, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "metrics.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(listed), "\n"+kubeRequests+" counter\n")
}
