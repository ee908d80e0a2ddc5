package kube

import (
	"net/http"
	"sync/atomic"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
)

// RequestMethods are the methods Requests counts apart; every other method
// (HEAD, OPTIONS, ...) counts as "other". Watches are GETs.
var RequestMethods = [...]string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "other",
}

// requests counts this process's Kubernetes API requests, by the index of
// their method in RequestMethods: every client the worker makes goes
// through WithClientLimits, whatever cluster it talks to (the controller's
// and the CLI's too; only the worker exports the count). Atomics, because
// it sits on the path of every request of every step the worker runs at once.
var requests [len(RequestMethods)]atomic.Uint64

// Requests is how many Kubernetes API requests this process has sent with
// method, one of RequestMethods, since it started: HTTP requests, so a
// client-go retry counts again and a request the rate limiter still holds
// does not count yet. A method not in RequestMethods reads "other".
func Requests(method string) uint64 { return requests[methodIndex(method)].Load() }

// methodIndex is method's index in RequestMethods; "other" for the rest.
func methodIndex(method string) int {
	for i, m := range RequestMethods[:len(RequestMethods)-1] {
		if m == method {
			return i
		}
	}
	return len(RequestMethods) - 1
}

// countRequests makes cfg's clients count their requests in requests.
func countRequests(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		if counted(rt) {
			return rt // WithClientLimits ran on cfg before: count each request once
		}
		return &countingRoundTripper{next: rt}
	})
}

// counted says whether rt already counts: it, or one it wraps, is a
// countingRoundTripper. client-go's own wrappers say what they wrap.
func counted(rt http.RoundTripper) bool {
	for rt != nil {
		if _, ok := rt.(*countingRoundTripper); ok {
			return true
		}
		w, ok := rt.(utilnet.RoundTripperWrapper)
		if !ok {
			return false
		}
		rt = w.WrappedRoundTripper()
	}
	return false
}

type countingRoundTripper struct{ next http.RoundTripper }

func (c *countingRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	requests[methodIndex(req.Method)].Add(1)
	return c.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go (and counted) see through it.
func (c *countingRoundTripper) WrappedRoundTripper() http.RoundTripper { return c.next }
