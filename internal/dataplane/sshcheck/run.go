package sshcheck

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// Exit codes of Main.
const (
	ExitConnected    = 0
	ExitNotConnected = 1
	ExitUsage        = 2
)

// Main is the sshcheck command: flags, then one JSON line per agent on
// stdout and the Summary in the termination-log file.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sshcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clientKeyFile := fs.String("client-key", "/etc/dr-syncer/op-key/"+keys.OpKeyFile, "the check's private key, OpenSSH PEM")
	clientCertFile := fs.String("client-cert", "/etc/dr-syncer/op-key/"+keys.OpCertFile, "its certificate, signed by the cluster-pair key")
	hostKeyFile := fs.String("host-key", "/etc/dr-syncer/agent-host-key/"+keys.HostKeysFile, "the agents' public host keys to pin, authorized_keys format, one per line")
	timeout := fs.Duration("timeout", 10*time.Second, "dial and handshake timeout per agent")
	termLog := fs.String("termination-log", "/dev/termination-log", "where the JSON summary is written")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sshcheck [flags] host:port...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	addrs := fs.Args()
	if len(addrs) == 0 {
		fs.Usage()
		return ExitUsage
	}
	signer, hostKeys, err := keys.LoadClientIdentity(*clientKeyFile, *clientCertFile, *hostKeyFile)
	if err != nil {
		fmt.Fprintln(stderr, "sshcheck:", err)
		return ExitUsage
	}
	o := Options{ClientKey: signer, HostKeys: hostKeys, Timeout: *timeout}
	results := CheckAll(ctx, o, addrs)
	enc := json.NewEncoder(stdout)
	for _, r := range results {
		_ = enc.Encode(r)
	}
	summary := Summarize(results)
	b, err := summary.Marshal()
	if err == nil {
		err = os.WriteFile(*termLog, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sshcheck: write summary:", err)
	}
	if !summary.Connected {
		return ExitNotConnected
	}
	return ExitConnected
}
