package mover

import (
	"context"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// channelsPerConnection is how many channels the claims sharing one agent
// connection may open at once: half the agent's default bound
// (agent.DefaultMaxChannels, 64), which refuses channels past it, so the
// short-lived channels of waits and listings fit beside the rsync streams.
const channelsPerConnection = 32

// maxClaimsPerConnection bounds the claims of one agent connection. Fewer
// connections cost fewer handshakes and stay within the agent's bounds (8
// claims each: a batch of 100, the most concurrentSyncs allows, takes 13
// of its 32); more connections spread a batch's data over more TCP
// streams, each with its own congestion window and its own cipher
// goroutine on either end, which a wide or lossy link between the
// clusters needs.
const maxClaimsPerConnection = 8

// claimsPerConnection is how many claims share one agent connection when
// each runs up to streams rsync streams (one channel each) plus one
// short-lived channel.
func claimsPerConnection(streams int) int {
	return max(1, min(maxClaimsPerConnection, channelsPerConnection/(max(streams, 1)+1)))
}

// agentShare hands a mover's claims agent connections: claim i shares
// connection i/perConnection with its neighbours. Each is dialed once, by
// the first claim that asks (the others wait for it), under the mover's
// context rather than a claim's: one claim's timeout must not close its
// neighbours' connection.
//
// Twenty claims dialing at once met two of the agent's bounds: handshakes
// at once per source address (16) and authenticated connections (32,
// which two batches of 20 passed); a few shared connections stay within
// both, and take the batch's SSH handshakes off its start.
type agentShare struct {
	perConnection int
	dial          func() (*ssh.Client, error)

	mu          sync.Mutex
	connections map[int]func() (*ssh.Client, error)
	dialed      []*ssh.Client
}

func newAgentShare(ctx context.Context, o AgentOptions, perConnection int, log *zap.Logger) *agentShare {
	return &agentShare{
		perConnection: max(perConnection, 1),
		dial:          func() (*ssh.Client, error) { return dialAgentPatiently(ctx, o, log) },
		connections:   map[int]func() (*ssh.Client, error){},
	}
}

// forClaim is claim i's connection, dialed when first asked for.
func (s *agentShare) forClaim(i int) func() (*ssh.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	group := i / s.perConnection
	if c, ok := s.connections[group]; ok {
		return c
	}
	c := sync.OnceValues(func() (*ssh.Client, error) {
		client, err := s.dial()
		if err == nil {
			s.mu.Lock()
			s.dialed = append(s.dialed, client)
			s.mu.Unlock()
		}
		return client, err
	})
	s.connections[group] = c
	return c
}

// close closes the connections dialed; once the claims' syncs have ended.
func (s *agentShare) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.dialed {
		_ = c.Close()
	}
}
