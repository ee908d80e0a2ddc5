package mover

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// An agent that refuses a burst of handshakes (its bound per source
// address) is dialed again after a short pause; a wrong host key is not.
func TestDialAgentPatientlyDialsAgainWhileUnreachable(t *testing.T) {
	a := startTestAgent(t)
	var dials int
	refusingTwice := func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials++
		if dials <= 2 {
			return nil, errors.New("connection refused")
		}
		return (&net.Dialer{}).DialContext(ctx, network, a.addr)
	}
	client, err := dialAgentPatiently(context.Background(), AgentOptions{Addr: "agent:2222", ClientKey: a.client, HostKeys: []ssh.PublicKey{a.pinned}, Dial: refusingTwice}, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.NoError(t, client.Close())
	assert.Equal(t, 3, dials)

	dials = 0
	refusingAlways := func(context.Context, string, string) (net.Conn, error) {
		dials++
		return nil, errors.New("connection refused")
	}
	_, err = dialAgentPatiently(context.Background(), AgentOptions{Addr: "agent:2222", ClientKey: a.client, HostKeys: []ssh.PublicKey{a.pinned}, Dial: refusingAlways}, zaptest.NewLogger(t))
	require.ErrorIs(t, err, ErrAgentUnreachable)
	assert.Equal(t, dialAttempts, dials, "gives up after its attempts")

	_, otherPub, err := keys.GenerateHostKey("other")
	require.NoError(t, err)
	other, err := keys.ParsePublicKey(otherPub)
	require.NoError(t, err)
	dials = 0
	counting := func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials++
		return (&net.Dialer{}).DialContext(ctx, network, a.addr)
	}
	_, err = dialAgentPatiently(context.Background(), AgentOptions{Addr: "agent:2222", ClientKey: a.client, HostKeys: []ssh.PublicKey{other}, Dial: counting}, zaptest.NewLogger(t))
	require.ErrorIs(t, err, ErrHostKeyMismatch)
	assert.Equal(t, 1, dials, "a wrong host key may be an attack: never dialed again")
}

// A mover's claims share agent connections in groups that keep their
// channels within the agent's bound, and each is dialed once.
func TestAgentShareDialsOncePerGroup(t *testing.T) {
	assert.Equal(t, 8, claimsPerConnection(1))
	assert.Equal(t, 6, claimsPerConnection(4))
	assert.Equal(t, 1, claimsPerConnection(rsyncargs.MaxParallelStreams))
	assert.Equal(t, 8, claimsPerConnection(0), "no streams set is one")
	assert.LessOrEqual(t, channelsPerConnection, agent.DefaultMaxChannels/2)

	a := startTestAgent(t)
	var dials atomic.Int32
	counting := func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, a.addr)
	}
	share := newAgentShare(context.Background(), AgentOptions{Addr: "agent:2222", ClientKey: a.client, HostKeys: []ssh.PublicKey{a.pinned}, Dial: counting}, 3, zaptest.NewLogger(t))
	clients := make([]*ssh.Client, 7)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := share.forClaim(i)()
			assert.NoError(t, err)
			clients[i] = c
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 3, dials.Load(), "claims 0-2, 3-5 and 6")
	assert.Same(t, clients[0], clients[2])
	assert.Same(t, clients[3], clients[5])
	assert.NotSame(t, clients[2], clients[3])
	share.close()
	_, _, err := clients[6].SendRequest("keepalive@openssh.com", true, nil)
	assert.Error(t, err, "closed with the share")
}
