package mountserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// Defaults for Options.
const (
	DefaultMaxConnections = 16
	DefaultTimeoutSeconds = 600
	DefaultReadyTimeout   = 10 * time.Second
	stopGrace             = 5 * time.Second
)

// Options configures the mount server.
type Options struct {
	// ModulePath is the mounted source PVC. Required unless Modules is set.
	ModulePath string
	// Module is the rsync module name; default DefaultModule.
	Module string
	// Modules, when set, are served instead of ModulePath and Module (which
	// must then be empty): one module per source PVC of a batch.
	Modules []Module
	// Address is the IP to bind (the pod IP). Required; never a wildcard in
	// a pod, so the daemon is not reachable on other interfaces.
	Address string
	// Port is the TCP port; 0 picks a free one (tests).
	Port int
	// Credentials are the per-operation rsync credentials. Required.
	Credentials keys.RsyncCredentials
	// RsyncPath is the rsync binary; default "rsync" from PATH.
	RsyncPath string
	// WorkDir holds the private config dir; default os.TempDir().
	WorkDir string
	// MaxConnections caps concurrent rsync clients, across all modules;
	// default DefaultMaxConnections per module.
	MaxConnections int
	// TimeoutSeconds drops idle clients; default DefaultTimeoutSeconds.
	TimeoutSeconds int
	// HostsAllow optionally restricts client addresses (the agent's node IP).
	HostsAllow []string
	// Logger is required.
	Logger *zap.Logger
	// DaemonLog receives rsyncd's own log; default os.Stderr.
	DaemonLog io.Writer
}

// Server is a running rsync daemon.
type Server struct {
	// Addr is the host:port the daemon listens on.
	Addr string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	err  error
}

// ErrRsyncNotFound means the rsync binary is missing from the image or host.
var ErrRsyncNotFound = errors.New("rsync not found: install Debian's rsync (make deps / hack/deps.sh)")

// Start writes the daemon's private config and starts rsync --daemon, and
// returns once the daemon accepts connections. Cancelling ctx stops it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Address == "" || opts.Logger == nil {
		return nil, invalid("address and logger are required")
	}
	if err := opts.Credentials.Validate(); err != nil {
		return nil, fmt.Errorf("mount server: %w", err)
	}
	if opts.MaxConnections <= 0 {
		// Per served volume: rsyncd counts "max connections" across all
		// the modules that share its lock file, so a batch's 20 movers
		// against a flat 16 had some refused ("max connections reached"),
		// and their syncs fell back to pods of their own.
		opts.MaxConnections = DefaultMaxConnections * max(1, len(opts.Modules))
	}
	if opts.TimeoutSeconds <= 0 {
		opts.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if opts.DaemonLog == nil {
		opts.DaemonLog = os.Stderr
	}
	rsync := opts.RsyncPath
	if rsync == "" {
		rsync = "rsync"
	}
	rsync, err := exec.LookPath(rsync)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRsyncNotFound, err)
	}
	modules, err := opts.servedModules()
	if err != nil {
		return nil, err
	}

	// Three tries only matter with Port 0, where another process can take
	// the free port between our probe and rsync's bind.
	var lastErr error
	for range 3 {
		s, err := start(ctx, opts, rsync, modules)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if opts.Port != 0 || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, opts Options, rsync string, modules []Module) (*Server, error) {
	port := opts.Port
	if port == 0 {
		p, err := freePort(opts.Address)
		if err != nil {
			return nil, err
		}
		port = p
	}
	dir, err := os.MkdirTemp(opts.WorkDir, "mountserver-")
	if err != nil {
		return nil, fmt.Errorf("mount server: private dir: %w", err)
	}
	root := os.Geteuid() == 0
	params := ConfigParams{
		Modules:        modules,
		User:           opts.Credentials.User,
		SecretsFile:    filepath.Join(dir, "rsyncd.secrets"),
		PIDFile:        filepath.Join(dir, "rsyncd.pid"),
		LockFile:       filepath.Join(dir, "rsyncd.lock"),
		Chroot:         root,
		RunAsRoot:      root,
		MaxConnections: opts.MaxConnections,
		TimeoutSeconds: opts.TimeoutSeconds,
		HostsAllow:     opts.HostsAllow,
	}
	conf, err := RenderConfig(params)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	confPath := filepath.Join(dir, "rsyncd.conf")
	// The Secret volume's files are usually 0644; rsyncd's strict modes
	// rightly refuse that, so the credentials are copied to a 0600 file.
	if err := os.WriteFile(params.SecretsFile, opts.Credentials.SecretsFileLine().Reveal(), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mount server: write secrets file: %w", err)
	}
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mount server: write config: %w", err)
	}

	cmd := exec.Command(rsync, "--daemon", "--no-detach",
		"--config="+confPath,
		"--address="+opts.Address,
		"--port="+strconv.Itoa(port),
		"--log-file=/dev/stderr")
	cmd.Stdout = opts.DaemonLog
	cmd.Stderr = opts.DaemonLog
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	// Own process group, so stopping the daemon also stops its per-client
	// children; and the daemon dies with us, never serving unsupervised.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mount server: start rsync daemon: %w", err)
	}
	s := &Server{
		Addr: net.JoinHostPort(opts.Address, strconv.Itoa(port)),
		cmd:  cmd,
		dir:  dir,
		done: make(chan struct{}),
	}
	go func() {
		s.err = cmd.Wait()
		_ = os.RemoveAll(dir)
		close(s.done)
	}()
	stop := context.AfterFunc(ctx, s.stop)
	go func() { <-s.done; stop() }()

	if err := s.waitReady(ctx, DefaultReadyTimeout); err != nil {
		s.stop()
		<-s.done
		return nil, err
	}
	for _, m := range modules {
		opts.Logger.Info("rsync daemon serving",
			zap.String("addr", s.Addr), zap.String("module", m.Name),
			zap.String("path", m.Path), zap.Bool("chroot", root), zap.String("rsync_user", opts.Credentials.User))
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("mount server: rsync daemon exited before listening on %s: %v", s.Addr, s.err)
		case <-ctx.Done():
			return fmt.Errorf("mount server: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mount server: rsync daemon not listening on %s after %s", s.Addr, timeout)
		}
	}
}

// stop sends SIGTERM to the daemon's process group and SIGKILL after a grace.
func (s *Server) stop() {
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// Wait blocks until the daemon exits. An exit caused by cancelling the
// Start context returns nil.
func (s *Server) Wait() error {
	<-s.done
	var ee *exec.ExitError
	if errors.As(s.err, &ee) && ee.ProcessState != nil {
		if ws, ok := ee.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
		// rsync exits 20 after handling SIGTERM.
		if ee.ExitCode() == 20 {
			return nil
		}
	}
	if s.err != nil {
		return fmt.Errorf("rsync daemon: %w", s.err)
	}
	return nil
}

// Stop stops the daemon and waits for it.
func (s *Server) Stop() error {
	s.stop()
	return s.Wait()
}

// Run starts the server and blocks until ctx ends or the daemon exits.
func Run(ctx context.Context, opts Options) error {
	s, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	return s.Wait()
}

func freePort(addr string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("mount server: find a free port on %s: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
