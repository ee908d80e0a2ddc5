// Command agent is the SSH bastion of the data path. It runs as a
// hostNetwork DaemonSet pod on every source node and forwards DR movers'
// direct-tcpip channels to allow-listed mount pods, and nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent/allowlist"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

func main() {
	cliutil.Exit("agent", run(os.Args[1:]))
}

func run(args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var logFlags cliutil.LogFlags
	logFlags.Register(fs)
	listen := fs.String("listen", cliutil.Env("DRSYNCER_AGENT_LISTEN", ":2222"), "address to accept SSH connections on (env DRSYNCER_AGENT_LISTEN)")
	hostKeyFile := fs.String("host-key-file", cliutil.Env("DRSYNCER_AGENT_HOST_KEY", "/etc/dr-syncer/host-key/ssh_host_ed25519_key"),
		"agent SSH host private key, OpenSSH PEM, from the host-key Secret (env DRSYNCER_AGENT_HOST_KEY)")
	authorizedFile := fs.String("authorized-keys-file", cliutil.Env("DRSYNCER_AGENT_AUTHORIZED_KEYS", "/etc/dr-syncer/authorized-keys/authorized_keys"),
		"cluster-pair public keys, authorized_keys format: the CAs whose per-operation certificates are accepted; re-read when it changes (env DRSYNCER_AGENT_AUTHORIZED_KEYS)")
	allowFile := fs.String("allow-list-file", cliutil.Env("DRSYNCER_AGENT_ALLOW_LIST", "/etc/dr-syncer/allow-list/targets"),
		"targets channels may reach, one ip:port per line; re-read when it changes (env DRSYNCER_AGENT_ALLOW_LIST)")
	allowFromAPI := fs.Bool("allow-from-api", cliutil.Env("DRSYNCER_AGENT_ALLOW_FROM_API", "") == "true",
		"allow the rsync port of dr-syncer mount pods on --node-name, watched from the Kubernetes API with the in-cluster config, instead of --allow-list-file (env DRSYNCER_AGENT_ALLOW_FROM_API=true)")
	nodeName := fs.String("node-name", cliutil.Env("NODE_NAME", ""), "this agent's node, for --allow-from-api (env NODE_NAME, from spec.nodeName)")
	idle := fs.Duration("idle-timeout", cliutil.EnvDuration("DRSYNCER_AGENT_IDLE_TIMEOUT", agent.DefaultIdleTimeout),
		"close connections without traffic for this long; keep above rsync's --timeout (env DRSYNCER_AGENT_IDLE_TIMEOUT)")
	maxConns := fs.Int("max-connections", agent.DefaultMaxConnections, "maximum concurrent authenticated SSH connections (one per PVC sync on its own pods; a batch of shared pods uses one per 8 of its PVCs)")
	maxPreAuth := fs.Int("max-unauthenticated", agent.DefaultMaxPreAuth,
		"maximum concurrent connections still in their SSH handshake, from all addresses; extra ones are closed at once")
	maxPreAuthPerIP := fs.Int("max-unauthenticated-per-ip", agent.DefaultMaxPreAuthPerIP,
		"maximum concurrent connections still in their SSH handshake from one source IP")
	maxChannels := fs.Int("max-channels", agent.DefaultMaxChannels,
		"maximum channels open at once on one connection (a sync opens one per rsync stream, at most 16, plus a few short ones; a batch's PVCs share a connection within 32 channels, so keep this at 32 or more)")
	metricsAddr := fs.String("metrics-addr", cliutil.Env("DRSYNCER_AGENT_METRICS_ADDR", ""),
		"address to serve Prometheus /metrics on, such as :9464; on the host network this is a port of the node; empty disables (env DRSYNCER_AGENT_METRICS_ADDR)")
	grace := fs.Duration("shutdown-grace", agent.DefaultShutdownGrace, "on SIGTERM, how long in-flight transfers may continue")
	var runtimeFlags cliutil.RuntimeFlags
	runtimeFlags.Register(fs)
	cliutil.Usage(fs, `agent: SSH bastion of the dr-syncer data path.

Usage: agent [flags]

Accepts logins with short-lived per-operation certificates signed by a key
in --authorized-keys-file (plain keys are refused) and opens direct-tcpip
channels to the one target each certificate names, if it is in
--allow-list-file, or with
--allow-from-api to the rsync port of the dr-syncer mount pods on
--node-name, watched from the Kubernetes API. Shells, exec,
subsystems, agent forwarding and remote forwarding are refused and logged.
Only AES-GCM ciphers are offered. Needs no root: bind a port >= 1024.`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, err := logFlags.Logger()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	runtimeFlags.Apply(log)

	pem, err := os.ReadFile(*hostKeyFile)
	if err != nil {
		return fmt.Errorf("read host key: %w", err)
	}
	hostKey, err := keys.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("host key %s: %w", *hostKeyFile, err)
	}
	authorized := agent.NewAuthorizedKeysFile(*authorizedFile, func(s *keys.AuthorizedSet) {
		fps := make([]string, 0, s.Len())
		for _, k := range s.Keys() {
			fps = append(fps, k.Fingerprint)
		}
		log.Info("certificate authorities loaded", zap.Strings("ca_fingerprints", fps))
	})
	if _, err := authorized.AuthorizedKeys(); err != nil {
		return fmt.Errorf("authorized keys: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var allow agent.AllowList
	if *allowFromAPI {
		apiAllow, err := apiAllowList(ctx, log, *nodeName)
		if err != nil {
			return err
		}
		allow = apiAllow
	} else {
		fileAllow := agent.NewFileAllowList(*allowFile, func(n int) { log.Info("allow-list loaded", zap.Int("targets", n)) })
		if err := fileAllow.Check(); err != nil {
			// The allow-list is written when the first mount pod appears; until
			// then every channel is refused, which is the right answer.
			log.Warn("allow-list not readable yet; refusing all targets until it is", zap.Error(err))
		}
		allow = fileAllow
	}
	srv, err := agent.New(agent.Options{
		HostKeys:        []ssh.Signer{hostKey},
		AuthorizedKeys:  authorized,
		AllowList:       allow,
		Logger:          log,
		IdleTimeout:     *idle,
		MaxConnections:  *maxConns,
		MaxPreAuth:      *maxPreAuth,
		MaxPreAuthPerIP: *maxPreAuthPerIP,
		MaxChannels:     *maxChannels,
		ShutdownGrace:   *grace,
	})
	if err != nil {
		return err
	}
	metrics, err := agentMetrics(srv.Stats)
	if err != nil {
		return err
	}
	serveMetrics(ctx, *metricsAddr, metrics, log)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	log.Info("agent listening", zap.String("addr", ln.Addr().String()),
		zap.String("host_key_fingerprint", ssh.FingerprintSHA256(hostKey.PublicKey())))
	return srv.Serve(ctx, ln)
}

// apiAllowList watches the mount pods on node with the in-cluster config
// and returns once the first list is in.
func apiAllowList(ctx context.Context, log *zap.Logger, node string) (*allowlist.AllowList, error) {
	if node == "" {
		return nil, errors.New("--allow-from-api needs --node-name (env NODE_NAME from the downward API)")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("--allow-from-api: in-cluster config: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("--allow-from-api: %w", err)
	}
	allow, err := allowlist.New(allowlist.Options{Client: cs, Node: node, OnChange: func(n int) {
		log.Info("allow-list changed", zap.String("node", node), zap.Int("targets", n))
	}})
	if err != nil {
		return nil, err
	}
	allow.Start(ctx)
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := allow.WaitSynced(syncCtx); err != nil {
		return nil, err
	}
	log.Info("allow-list watching mount pods", zap.String("node", node), zap.Int("targets", len(allow.Targets())))
	return allow, nil
}
