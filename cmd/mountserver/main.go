// Command mountserver is the source mount pod's entrypoint: it serves the
// read-only source PVC with the real rsync daemon on the pod IP, behind the
// per-operation rsync credentials.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mountserver"
)

// DefaultPort is the mount pod's internal rsync port; not rsyncd's 873, so
// the pod needs no privilege to bind it.
const DefaultPort = 8873

func main() {
	cliutil.Exit("mountserver", run(os.Args[1:]))
}

func run(args []string) error {
	fs := flag.NewFlagSet("mountserver", flag.ContinueOnError)
	var logFlags cliutil.LogFlags
	logFlags.Register(fs)
	path := fs.String("path", cliutil.Env("DRSYNCER_MOUNT_PATH", "/data"), "the mounted source volume to serve, read-only (env DRSYNCER_MOUNT_PATH)")
	module := fs.String("module", mountserver.DefaultModule, "rsync module name")
	address := fs.String("address", cliutil.Env("POD_IP", ""), "IP to bind, normally the pod IP from the downward API (env POD_IP); required")
	port := fs.Int("port", DefaultPort, "TCP port of the rsync daemon")
	credDir := cliutil.Env("DRSYNCER_RSYNC_CREDENTIALS_DIR", "/etc/dr-syncer/rsync")
	userFile := fs.String("rsync-user-file", filepath.Join(credDir, keys.RsyncUserFile), "file holding the per-operation rsync user (mounted Secret)")
	passwordFile := fs.String("rsync-password-file", filepath.Join(credDir, keys.RsyncPasswordFile), "file holding the per-operation rsync password (mounted Secret)")
	rsync := fs.String("rsync", "rsync", "rsync binary")
	hostsAllow := fs.String("hosts-allow", cliutil.Env("DRSYNCER_HOSTS_ALLOW", ""), "comma-separated client IPs/CIDRs allowed (the agent's node IP); empty allows any (env DRSYNCER_HOSTS_ALLOW)")
	maxConns := fs.Int("max-connections", 0, fmt.Sprintf("maximum concurrent rsync clients (parallel streams) across all served volumes; 0 is %d per volume", mountserver.DefaultMaxConnections))
	timeout := fs.Int("timeout-seconds", mountserver.DefaultTimeoutSeconds, "drop clients idle this long")
	var served servedModules
	fs.Var(&served, "serve", "NAME=PATH: serve the absolute directory PATH as module NAME; repeat it for each volume of a batch; replaces --path and --module")
	cliutil.Usage(fs, `mountserver: serves source volumes to the dr-syncer mover with rsync.

Usage: mountserver --address=$POD_IP [--path=DIR | --serve=NAME=PATH ...] [flags]

Runs "rsync --daemon --no-detach" with a generated, read-only module for
--path (named --module), or one module per --serve. Symlinks are sent as
symlinks and never followed out of a volume (chroot when running as root).
Clients must present the per-operation credentials from
--rsync-user-file/--rsync-password-file, the same for every module. Stops on
SIGTERM.`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := served.check(fs); err != nil {
		return err
	}
	if *address == "" {
		return errors.New("--address (or POD_IP) is required")
	}
	log, err := logFlags.Logger()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	creds, err := keys.LoadRsyncCredentials(*userFile, *passwordFile)
	if err != nil {
		return err
	}
	var allow []string
	for _, h := range strings.Split(*hostsAllow, ",") {
		if h = strings.TrimSpace(h); h != "" {
			allow = append(allow, h)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := mountserver.Options{
		Modules:        served,
		Address:        *address,
		Port:           *port,
		Credentials:    creds,
		RsyncPath:      *rsync,
		MaxConnections: *maxConns,
		TimeoutSeconds: *timeout,
		HostsAllow:     allow,
		Logger:         log,
	}
	if len(served) == 0 {
		opts.ModulePath, opts.Module = *path, *module
	}
	return mountserver.Run(ctx, opts)
}

// servedModules collects --serve NAME=PATH, each checked as it is given.
type servedModules []mountserver.Module

func (s *servedModules) String() string {
	if s == nil {
		return ""
	}
	flags := make([]string, 0, len(*s))
	for _, m := range *s {
		flags = append(flags, m.Name+"="+m.Path)
	}
	return strings.Join(flags, " ")
}

// Set appends one module.
func (s *servedModules) Set(v string) error {
	m, err := mountserver.ParseModule(v)
	if err != nil {
		return err
	}
	*s = append(*s, m)
	return nil
}

// check refuses --serve next to an explicit --path or --module, which it
// replaces, and modules that clash; before anything is loaded, so a wrong
// pod spec fails with its own message. DRSYNCER_MOUNT_PATH, only a default
// of --path, is ignored next to --serve.
func (s servedModules) check(fs *flag.FlagSet) error {
	if len(s) == 0 {
		return nil
	}
	var replaced []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "path" || f.Name == "module" {
			replaced = append(replaced, "--"+f.Name)
		}
	})
	if len(replaced) > 0 {
		return fmt.Errorf("--serve replaces %s: give one or the other", strings.Join(replaced, " and "))
	}
	if err := mountserver.ValidateModules(s); err != nil {
		return fmt.Errorf("--serve: %w", err)
	}
	return nil
}
