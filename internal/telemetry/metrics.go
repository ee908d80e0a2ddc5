package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Metrics is a tally scope reported to Prometheus.
type Metrics struct {
	// Scope is where the project's own metrics go.
	Scope    tally.Scope
	registry Registry
	closer   io.Closer
}

// NewMetrics returns a scope whose metrics are served by Handler, prefixed
// with prefix (for example "drsyncer_worker"), with Go and process metrics.
func NewMetrics(prefix string) (*Metrics, error) {
	registry := prom.NewRegistry()
	if err := registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register go collector: %w", err)
	}
	if err := registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("register process collector: %w", err)
	}
	return NewMetricsIn(prefix, registry), nil
}

// NewMetricsIn reports into an existing registry, such as the one
// controller-runtime's manager already serves.
func NewMetricsIn(prefix string, registry Registry) *Metrics {
	reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: registry, Gatherer: registry})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		Prefix:          prefix,
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sanitizeOptions,
	}, time.Second)
	return &Metrics{Scope: sdktally.NewPrometheusNamingScope(scope), registry: registry, closer: closer}
}

// sanitizeOptions are the SDK's Prometheus rules, except that label values
// keep '-' and '.': they carry Kubernetes names (replication="shop-db"),
// which must read the same here as in the controller's series and in
// kubectl, or no query could join them.
var sanitizeOptions = func() tally.SanitizeOptions {
	o := sdktally.PrometheusSanitizeOptions
	o.ValueCharacters = tally.ValidCharacters{Ranges: tally.AlphanumericRange, Characters: []rune{'_', '-', '.'}}
	return o
}()

// Registry is where Prometheus metrics are registered and gathered from.
type Registry interface {
	prom.Registerer
	prom.Gatherer
}

// TemporalHandler feeds the SDK's own metrics (task latencies, poll counts,
// activity failures) into the same scope.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	return sdktally.NewMetricsHandler(m.Scope)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Register adds a collector to the metrics Handler serves: for figures
// read at scrape time, which tally cannot report.
func (m *Metrics) Register(c prom.Collector) error { return m.registry.Register(c) }

// Close flushes and stops the reporter.
func (m *Metrics) Close() error { return m.closer.Close() }

// Serve serves /metrics on addr until ctx is done. An empty addr serves nothing.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	if addr == "" || addr == "0" {
		<-ctx.Done()
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}
