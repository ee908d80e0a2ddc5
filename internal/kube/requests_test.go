package kube_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// These tests read the process-wide counts, so they run alone (not
// t.Parallel) and compare before with after.

// apiServer answers every request; /version as an API server does.
func apiServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"major":"1","minor":"36","gitVersion":"v1.36.3"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func requestCounts() map[string]uint64 {
	counts := map[string]uint64{}
	for _, m := range kube.RequestMethods {
		counts[m] = kube.Requests(m)
	}
	return counts
}

// sent is what was counted since before, by method, zeros left out.
func sent(before map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for m, n := range requestCounts() {
		if d := n - before[m]; d > 0 {
			out[m] = d
		}
	}
	return out
}

func TestClientLimitsCountRequestsByMethod(t *testing.T) {
	srv := apiServer(t)
	client, err := rest.HTTPClientFor(kube.WithClientLimits(&rest.Config{Host: srv.URL}))
	require.NoError(t, err)

	before := requestCounts()
	for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPatch, http.MethodHead, http.MethodOptions} {
		req, err := http.NewRequest(method, srv.URL+"/api/v1/namespaces", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	assert.Equal(t, map[string]uint64{"GET": 2, "PATCH": 1, "other": 2}, sent(before))
	assert.Equal(t, kube.Requests("other"), kube.Requests("HEAD"), "HEAD counts and reads as other")
}

// WithClientLimits on a config it already limited, or on a copy of one,
// even with another wrapper added in between, counts each request once:
// rest.Config.Wrap composes, it does not replace.
func TestClientLimitsTwiceCountOnce(t *testing.T) {
	srv := apiServer(t)
	cfg := kube.WithClientLimits(&rest.Config{Host: srv.URL})
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return transport.NewUserAgentRoundTripper("test", rt) })
	cfg = kube.WithClientLimits(kube.WithClientLimits(rest.CopyConfig(cfg)))
	assert.Equal(t, float32(kube.ClientQPS), cfg.QPS)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	before := requestCounts()
	version, err := cs.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v1.36.3", version.GitVersion)
	assert.Equal(t, map[string]uint64{"GET": 1}, sent(before))
}

// A config WithClientLimits never saw counts nothing.
func TestUnlimitedConfigCountsNothing(t *testing.T) {
	srv := apiServer(t)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	before := requestCounts()
	_, err = cs.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Empty(t, sent(before))
}
