// Package sshcheck proves that this pod reaches source agents over SSH: it
// dials each agent with the cluster-pair key and the agent's pinned host
// key, authenticates, opens nothing and closes. The connectivity workflow
// runs it in a DR pod and reads the Summary from the termination message.
package sshcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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

// Summary is what the termination message holds. It lists the agents that
// passed by address and the failures in full, and it is kept under the
// kubelet's 4 KiB termination-message limit by shortening error texts.
type Summary struct {
	Connected bool     `json:"connected"`
	OK        []string `json:"ok,omitempty"`
	Failed    []Result `json:"failed,omitempty"`
}

// MaxSummaryBytes is the kubelet's termination-message limit.
const MaxSummaryBytes = 4096

// Options say how to reach and trust the agents.
type Options struct {
	ClientKey ssh.Signer
	HostKey   ssh.PublicKey
	// Timeout bounds dial and handshake per agent; default 10s.
	Timeout time.Duration
	// Dial opens the TCP connection; default net.Dialer.
	Dial mover.DialFunc
}

// Check dials one agent, authenticates and closes.
func Check(ctx context.Context, o Options, addr string) Result {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	dial := o.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	// The dial error is kept as is: "dial tcp …: i/o timeout" reads better
	// than the mover's wrapping of it.
	var dialErr error
	c, err := mover.DialAgent(ctx, mover.AgentOptions{
		Addr: addr, ClientKey: o.ClientKey, HostKey: o.HostKey, HandshakeTimeout: o.Timeout,
		Dial: func(ctx context.Context, network, a string) (net.Conn, error) {
			conn, err := dial(ctx, network, a)
			dialErr = err
			return conn, err
		},
	})
	if err == nil {
		_ = c.Close()
		return Result{Addr: addr, OK: true}
	}
	r := Result{Addr: addr}
	switch {
	case errors.Is(err, mover.ErrAuthRefused):
		r.Kind, r.Error = KindAuth, "authentication failed (the agent does not accept this cluster key)"
	case errors.Is(err, mover.ErrHostKeyMismatch):
		r.Kind, r.Error = KindHostKey, "host key mismatch (the agent's host key is not the pinned one): "+afterMismatch(err)
	case dialErr != nil:
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
	s := Summary{Connected: len(results) > 0}
	for _, r := range results {
		if r.OK {
			s.OK = append(s.OK, r.Addr)
			continue
		}
		s.Connected = false
		s.Failed = append(s.Failed, r)
	}
	return s
}

// Marshal encodes s within MaxSummaryBytes, shortening error texts first.
func (s Summary) Marshal() ([]byte, error) {
	for _, limit := range []int{0, 200, 80, 0} {
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
	// Too many agents to list: keep the verdict and the first failures.
	for len(s.OK)+len(s.Failed) > 0 {
		if len(s.OK) > 0 {
			s.OK = s.OK[:len(s.OK)/2]
		} else {
			s.Failed = s.Failed[:len(s.Failed)/2]
		}
		if b, err := json.Marshal(s); err != nil || len(b) <= MaxSummaryBytes {
			return b, err
		}
	}
	return json.Marshal(s)
}

// Results expands a Summary back to one Result per address checked; an
// address the summary does not mention failed to report.
func (s Summary) Results(addrs []string) []Result {
	ok := map[string]bool{}
	for _, a := range s.OK {
		ok[a] = true
	}
	failed := map[string]Result{}
	for _, r := range s.Failed {
		failed[r.Addr] = r
	}
	out := make([]Result, 0, len(addrs))
	for _, a := range addrs {
		switch r, bad := failed[a]; {
		case bad:
			out = append(out, r)
		case ok[a]:
			out = append(out, Result{Addr: a, OK: true})
		default:
			out = append(out, Result{Addr: a, Error: "no result reported by the check pod"})
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
