// Package cmdutil holds the flags and start-up steps the binaries share:
// logging, metrics and the kubeconfig of the cluster that holds the CRs.
package cmdutil

import (
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dr-syncer/dr-syncer/internal/telemetry"
)

// Common are the flags every long-running binary takes.
type Common struct {
	Log         telemetry.LogOptions
	MetricsAddr string
	Kubeconfig  string
}

// RegisterFlags adds the common flags to fs; metricsAddr is the binary's default.
func (c *Common) RegisterFlags(fs *flag.FlagSet, metricsAddr string) {
	fs.StringVar(&c.Log.Level, "log-level", Env("DRSYNCER_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env DRSYNCER_LOG_LEVEL)")
	fs.StringVar(&c.Log.Format, "log-format", Env("DRSYNCER_LOG_FORMAT", "json"), "log format: json or console (env DRSYNCER_LOG_FORMAT)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", Env("DRSYNCER_METRICS_ADDR", metricsAddr), "address to serve Prometheus /metrics on; empty disables (env DRSYNCER_METRICS_ADDR)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", Env("KUBECONFIG", ""), "kubeconfig of the cluster that holds the dr-syncer resources; empty uses ~/.kube/config or the in-cluster service account (env KUBECONFIG)")
}

// Usage prints a binary's synopsis before its flags.
func Usage(fs *flag.FlagSet, synopsis string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
}

// Logger builds the logger the flags ask for.
func (c *Common) Logger() (*zap.Logger, error) { return telemetry.NewLogger(c.Log) }

// RESTConfig loads the kubeconfig the flags name, falling back to the usual
// places and then to the in-cluster service account.
func (c *Common) RESTConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.Kubeconfig != "" {
		rules.ExplicitPath = c.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig (set --kubeconfig or KUBECONFIG): %w", err)
	}
	return cfg, nil
}

// Env returns the environment variable name, or fallback when it is unset or empty.
func Env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}
