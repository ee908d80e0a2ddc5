// Package sshcheck proves that this pod reaches source agents over SSH: it
// dials each agent with a per-check certificate (signed by the cluster-pair
// key, bound to keys.ProbeTarget, which no agent forwards) and the agents'
// pinned host keys, authenticates, opens nothing and closes. The connectivity workflow
// runs it in a DR pod and reads the Summary from the termination message.
package sshcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
)

// Kinds of failure, so callers can say what to fix without parsing text.
const (
	KindAuth        = "auth"
	KindHostKey     = "hostKey"
	KindUnreachable = "unreachable"
)

// Result is the check of one agent; one JSON line on stdout.
type Result struct {
	Addr  string `json:"addr"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Kind is KindAuth, KindHostKey or KindUnreachable when not OK.
	Kind string `json:"kind,omitempty"`
}

// Summary is what the termination message holds: the verdict, how many
// agents were checked and the failures in full. Passing agents are not
// listed, so it fits the kubelet's 4 KiB termination-message limit for any
// number of agents; error texts are shortened, and failures beyond what fits
// are counted in Omitted.
type Summary struct {
	Connected bool     `json:"connected"`
	Checked   int      `json:"checked"`
	Failed    []Result `json:"failed,omitempty"`
	Omitted   int      `json:"omitted,omitempty"`
}

// MaxSummaryBytes is the kubelet's termination-message limit.
const MaxSummaryBytes = 4096

// Options say how to reach and trust the agents.
type Options struct {
	// ClientKey is the check's key with its certificate (keys.CertSigner).
	ClientKey ssh.Signer
	// HostKeys are the pinned agent host keys (current and previous).
	HostKeys []ssh.PublicKey
	// Timeout bounds dial and handshake per agent; default 10s.
	Timeout time.Duration
}

// Check dials one agent, authenticates and closes.
func Check(ctx context.Context, o Options, addr string) Result {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	c, err := mover.DialAgent(ctx, mover.AgentOptions{
		Addr: addr, ClientKey: o.ClientKey, HostKeys: o.HostKeys, HandshakeTimeout: o.Timeout,
	})
	if err == nil {
		_ = c.Close()
		return Result{Addr: addr, OK: true}
	}
	r := Result{Addr: addr}
	var dialErr *net.OpError
	switch {
	case errors.Is(err, mover.ErrAuthRefused):
		r.Kind, r.Error = KindAuth, "authentication failed (the agent does not accept certificates of this cluster key, or its clock is off by more than the certificate's validity)"
	case errors.Is(err, mover.ErrHostKeyMismatch):
		r.Kind, r.Error = KindHostKey, "host key mismatch (the agent's host key is not the pinned one): "+afterMismatch(err)
	case errors.As(err, &dialErr):
		// "dial tcp …: i/o timeout" reads better than the mover's wrapping.
		r.Kind, r.Error = KindUnreachable, "unreachable: "+dialErr.Error()
	default:
		r.Kind, r.Error = KindUnreachable, "unreachable: "+strings.TrimPrefix(err.Error(), mover.ErrAgentUnreachable.Error()+": ")
	}
	return r
}

// afterMismatch keeps the "got …, pinned …" fingerprints of the error.
func afterMismatch(err error) string {
	s := err.Error()
	if i := strings.Index(s, mover.ErrHostKeyMismatch.Error()+": "); i >= 0 {
		return s[i+len(mover.ErrHostKeyMismatch.Error())+2:]
	}
	return s
}

// CheckAll checks every agent concurrently; results are in addrs' order.
func CheckAll(ctx context.Context, o Options, addrs []string) []Result {
	out := make([]Result, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() { out[i] = Check(ctx, o, addr) })
	}
	wg.Wait()
	return out
}

// Summarize folds results into a Summary; Connected needs at least one agent.
func Summarize(results []Result) Summary {
	s := Summary{Connected: len(results) > 0, Checked: len(results)}
	for _, r := range results {
		if !r.OK {
			s.Connected = false
			s.Failed = append(s.Failed, r)
		}
	}
	return s
}

// Marshal encodes s within MaxSummaryBytes: it shortens error texts first,
// then keeps the first failures and counts the rest in Omitted.
func (s Summary) Marshal() ([]byte, error) {
	s.Failed = slices.Clone(s.Failed)
	for _, limit := range []int{0, 200, 80} {
		if limit > 0 {
			for i := range s.Failed {
				if len(s.Failed[i].Error) > limit {
					s.Failed[i].Error = s.Failed[i].Error[:limit] + "…"
				}
			}
		}
		b, err := json.Marshal(s)
		if err != nil || len(b) <= MaxSummaryBytes {
			return b, err
		}
	}
	for {
		keep := len(s.Failed) / 2
		s.Omitted += len(s.Failed) - keep
		s.Failed = s.Failed[:keep]
		if b, err := json.Marshal(s); err != nil || len(b) <= MaxSummaryBytes || keep == 0 {
			return b, err
		}
	}
}

// Results expands a Summary back to one Result per address checked. An
// address it does not list passed, unless the pod checked other agents than
// addrs or failures were omitted: then its outcome is unknown.
func (s Summary) Results(addrs []string) []Result {
	failed := map[string]Result{}
	for _, r := range s.Failed {
		failed[r.Addr] = r
	}
	unknown := ""
	switch {
	case s.Checked != len(addrs):
		unknown = fmt.Sprintf("no result: the check pod checked %d agents, not these %d", s.Checked, len(addrs))
	case s.Omitted > 0:
		unknown = fmt.Sprintf("no result kept: the check pod listed %d of %d failures", len(s.Failed), len(s.Failed)+s.Omitted)
	}
	out := make([]Result, 0, len(addrs))
	for _, a := range addrs {
		switch r, bad := failed[a]; {
		case bad:
			out = append(out, r)
		case unknown == "":
			out = append(out, Result{Addr: a, OK: true})
		default:
			out = append(out, Result{Addr: a, Error: unknown})
		}
	}
	return out
}

// String is a one-line description for logs and messages.
func (r Result) String() string {
	if r.OK {
		return fmt.Sprintf("agent %s: ok", r.Addr)
	}
	return fmt.Sprintf("agent %s: %s", r.Addr, r.Error)
}
