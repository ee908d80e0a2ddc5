// Package cmdutil holds the flags and start-up steps the control-plane
// binaries share on top of cliutil's: metrics and the kubeconfig of the
// cluster that holds the CRs.
package cmdutil

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/temporalconn"
)

// Common are the flags every long-running binary takes.
type Common struct {
	Log         cliutil.LogFlags
	MetricsAddr string
	Kubeconfig  string
	Temporal    temporalconn.Options
	// Kubeconfigs says which RemoteCluster kubeconfigs may be loaded; its
	// SystemNamespace is the --system-namespace flag.
	Kubeconfigs kube.KubeconfigPolicy
}

// SystemNamespace is the namespace besides its own that a dr-syncer
// object's references may point into: the one the binary runs in.
func (c *Common) SystemNamespace() string { return c.Kubeconfigs.SystemNamespace }

// NewFlags is the flag set of the long-running binary name, writing usage
// and errors to output, with the common flags registered; metricsAddr is
// the binary's default.
func NewFlags(name string, output io.Writer, metricsAddr string) (*flag.FlagSet, *Common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	c := &Common{}
	c.RegisterFlags(fs, metricsAddr)
	return fs, c
}

// Parse parses args; done says the process has nothing more to do (--help
// was printed), and err is a flag error already printed with the usage.
func Parse(fs *flag.FlagSet, args []string) (done bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	return err != nil, err
}

// RegisterFlags adds the common flags to fs; metricsAddr is the binary's default.
func (c *Common) RegisterFlags(fs *flag.FlagSet, metricsAddr string) {
	c.Temporal.RegisterFlags(fs)
	c.Log.Register(fs)
	fs.StringVar(&c.MetricsAddr, "metrics-addr", cliutil.Env("DRSYNCER_METRICS_ADDR", metricsAddr), "address to serve Prometheus /metrics on; empty disables (env DRSYNCER_METRICS_ADDR)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", cliutil.Env("KUBECONFIG", ""), "kubeconfig of the cluster that holds the dr-syncer resources; empty uses ~/.kube/config or the in-cluster service account (env KUBECONFIG)")
	fs.BoolVar(&c.Kubeconfigs.AllowExternal, kube.AllowExternalFlag, cliutil.Env("DRSYNCER_ALLOW_EXTERNAL_KUBECONFIG_CREDENTIALS", "") == "true",
		"load RemoteCluster kubeconfigs that run a command (exec, auth-provider) or read a local file (tokenFile, certificate, key or CA paths); "+
			"refused by default, since whoever writes a kubeconfig Secret could make this process run or read them (env DRSYNCER_ALLOW_EXTERNAL_KUBECONFIG_CREDENTIALS=true)")
	fs.StringVar(&c.Kubeconfigs.SystemNamespace, "system-namespace", cliutil.Env("DRSYNCER_SYSTEM_NAMESPACE", cliutil.Env("POD_NAMESPACE", drv1.DefaultSystemNamespace)),
		"the namespace, besides its own, that a Replication, ClusterMapping or RemoteCluster may refer into (Secrets, mappings); "+
			"references into any other namespace are refused (env DRSYNCER_SYSTEM_NAMESPACE, else POD_NAMESPACE)")
}

// Logger builds the logger the flags ask for.
func (c *Common) Logger() (*zap.Logger, error) { return c.Log.Logger() }

// RESTConfig loads the kubeconfig the flags name, falling back to the usual
// places and then to the in-cluster service account.
func (c *Common) RESTConfig() (*rest.Config, error) { return LoadRESTConfig(c.Kubeconfig, "") }

// LoadRESTConfig loads the kubeconfig at path (empty: $KUBECONFIG, then
// ~/.kube/config, then the in-cluster service account), with context
// kubeContext (empty: its current context).
func LoadRESTConfig(path, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig (set --kubeconfig or KUBECONFIG): %w", err)
	}
	return kube.WithClientLimits(cfg), nil
}
