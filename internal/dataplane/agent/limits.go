package agent

import (
	"net"
	"sync"
)

// preAuthLimiter bounds connections that have not authenticated yet,
// globally and per source IP. An unauthenticated client costs a goroutine
// and a handshake for up to HandshakeTimeout; without a bound, a flood of
// them from anywhere that reaches the port would crowd out real syncs,
// whose own limit (MaxConnections) counts only authenticated connections.
type preAuthLimiter struct {
	mu       sync.Mutex
	global   int
	perIP    int
	total    int
	bySource map[string]int
}

func newPreAuthLimiter(global, perIP int) *preAuthLimiter {
	return &preAuthLimiter{global: global, perIP: perIP, bySource: map[string]int{}}
}

// acquire takes a slot for a connection from addr; ok is false when either
// bound is reached. why says which.
func (l *preAuthLimiter) acquire(addr net.Addr) (release func(), why string) {
	ip := sourceIP(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.global:
		return nil, "too many unauthenticated connections"
	case l.bySource[ip] >= l.perIP:
		return nil, "too many unauthenticated connections from this address"
	}
	l.total++
	l.bySource[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.bySource[ip]--; l.bySource[ip] == 0 {
				delete(l.bySource, ip)
			}
		})
	}, ""
}

func sourceIP(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
