package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/filewatch"
)

// AllowList decides which targets a direct-tcpip channel may reach. The
// agent passes only IP literals (never names, so DNS cannot redirect a check
// that already passed) and ports within 1-65535.
//
// The file-backed list below is one implementation; a Kubernetes-backed one
// (mount pods on this node, by label) lives with the cluster code.
type AllowList interface {
	Allowed(host string, port uint32) bool
}

// NamedTargets is an AllowList that also knows its targets by name, so a
// mover started together with its mount pod can ask for the pod before it
// has an IP. A name resolves only to an address the list itself allows, and
// never through DNS.
type NamedTargets interface {
	AllowList
	// LookupTarget returns the address named host. When there is none,
	// pending says whether the name may still resolve: its pod is not
	// listed yet or has no IP yet (rather than finished or malformed).
	LookupTarget(host string) (addr netip.Addr, ok, pending bool)
}

// RejectTargetNotReady is the agent's answer to a named target that may
// still come up; movers wait on it, while "target not allowed" is final.
const RejectTargetNotReady = "target not ready"

// StaticAllowList is a fixed set of targets.
type StaticAllowList map[netip.AddrPort]struct{}

// NewStaticAllowList builds a StaticAllowList from "ip:port" strings.
func NewStaticAllowList(targets ...string) (StaticAllowList, error) {
	l := StaticAllowList{}
	for _, t := range targets {
		ap, err := parseTarget(t)
		if err != nil {
			return nil, err
		}
		l[ap] = struct{}{}
	}
	return l, nil
}

// Allowed implements AllowList.
func (l StaticAllowList) Allowed(host string, port uint32) bool {
	ap, ok := normalizeTarget(host, port)
	if !ok {
		return false
	}
	_, ok = l[ap]
	return ok
}

// ParseAllowList parses allow-list file content: one "ip:port" per line
// ("[v6]:port" for IPv6), blank lines and "#" comments ignored. Host names are
// rejected.
func ParseAllowList(data []byte) (StaticAllowList, error) {
	l := StaticAllowList{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		ap, err := parseTarget(line)
		if err != nil {
			return nil, fmt.Errorf("allow-list line %d: %w", n, err)
		}
		l[ap] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read allow-list: %w", err)
	}
	return l, nil
}

func parseTarget(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("target %q: want ip:port: %w", s, err)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("target %q: port 0", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), nil
}

func normalizeTarget(host string, port uint32) (netip.AddrPort, bool) {
	if port == 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// FileAllowList is an AllowList read from a file the system keeps up to
// date; changes apply to the next channel. An unreadable or malformed file
// allows nothing.
type FileAllowList struct {
	file *filewatch.File[StaticAllowList]
}

// NewFileAllowList watches path. onReload (optional) is told the new size.
func NewFileAllowList(path string, onReload func(entries int)) *FileAllowList {
	opts := filewatch.Options[StaticAllowList]{}
	if onReload != nil {
		opts.OnReload = func(l StaticAllowList) { onReload(len(l)) }
	}
	return &FileAllowList{file: filewatch.New(path, ParseAllowList, opts)}
}

// Allowed implements AllowList.
func (f *FileAllowList) Allowed(host string, port uint32) bool {
	l, err := f.file.Get()
	if err != nil {
		return false
	}
	return l.Allowed(host, port)
}

// Check reports why the file is unusable, for startup validation and logs.
func (f *FileAllowList) Check() error {
	_, err := f.file.Get()
	return err
}
