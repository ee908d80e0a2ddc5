package agent

import "sync/atomic"

// Stats are the agent's connection figures since it started, for its
// metrics (cmd/agent serves them).
type Stats struct {
	// Accepted counts connections that logged in and were let through.
	Accepted uint64
	// Refused counts connections turned away: over the pre-authentication
	// limits, a failed login or handshake, or over MaxConnections. A TCP
	// connect that closes before saying anything (a readiness probe, a port
	// scan) is not counted.
	Refused uint64
	// ActiveConnections are the logged-in connections open now.
	ActiveConnections int64
	// ActiveChannels are the direct-tcpip channels being served now, across
	// all connections.
	ActiveChannels int64
}

// counters hold Stats while the server runs.
type counters struct {
	accepted, refused atomic.Uint64
	channels          atomic.Int64
}

// Stats returns the server's figures now; safe to call at any time.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted: s.counters.accepted.Load(), Refused: s.counters.refused.Load(),
		ActiveConnections: s.authenticated.Load(), ActiveChannels: s.counters.channels.Load(),
	}
}
