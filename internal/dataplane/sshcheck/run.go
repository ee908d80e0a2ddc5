package sshcheck

import (
	"context"
	"encoding/json"
	"errors"
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
	clientKeyFile := fs.String("client-key", "/etc/dr-syncer/cluster-key/id_ed25519", "cluster-pair private key, OpenSSH PEM")
	hostKeyFile := fs.String("host-key", "/etc/dr-syncer/agent-host-key/ssh_host_ed25519_key.pub", "the agents' public host key to pin, authorized_keys format")
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
	o, err := loadOptions(*clientKeyFile, *hostKeyFile)
	if err != nil {
		fmt.Fprintln(stderr, "sshcheck:", err)
		return ExitUsage
	}
	o.Timeout = *timeout
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

func loadOptions(clientKeyFile, hostKeyFile string) (Options, error) {
	pem, err := os.ReadFile(clientKeyFile)
	if err != nil {
		return Options{}, fmt.Errorf("read client key: %w", err)
	}
	signer, err := keys.ParsePrivateKey(pem)
	if err != nil {
		return Options{}, fmt.Errorf("parse client key %s: %w", clientKeyFile, err)
	}
	line, err := os.ReadFile(hostKeyFile)
	if err != nil {
		return Options{}, fmt.Errorf("read host key: %w", err)
	}
	host, err := keys.ParsePublicKey(line)
	if err != nil {
		return Options{}, fmt.Errorf("parse host key %s: %w", hostKeyFile, err)
	}
	if signer == nil || host == nil {
		return Options{}, errors.New("client key and host key are required")
	}
	return Options{ClientKey: signer, HostKey: host}, nil
}
