package kube

import "k8s.io/client-go/rest"

// Client-side rate limits of every client dr-syncer makes: the control
// cluster's and each RemoteCluster's. client-go's default (5 QPS, burst 10)
// is shared by all the steps a worker runs at once; with five PVC syncs
// polling pods it made every short step wait seconds for a token, and a
// namespace of a thousand objects take minutes. These stay well inside what
// an API server serves one client, and API Priority and Fairness still
// protects the server.
const (
	ClientQPS   = 100
	ClientBurst = 200
)

// WithClientLimits sets cfg's rate limits to ClientQPS and ClientBurst
// unless the kubeconfig's loader already chose some, makes its clients count
// their requests (Requests), and returns cfg. Calling it again on cfg, or
// on a copy, changes nothing.
func WithClientLimits(cfg *rest.Config) *rest.Config {
	countRequests(cfg)
	if cfg.QPS == 0 {
		cfg.QPS = ClientQPS
	}
	if cfg.Burst == 0 {
		cfg.Burst = ClientBurst
	}
	return cfg
}
