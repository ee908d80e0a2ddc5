package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/temporalconn"
	"github.com/dr-syncer/dr-syncer/starter"
)

// Temporal is a running Temporal dev server.
type Temporal struct {
	Address   string
	Namespace string
	TaskQueue string
	Client    client.Client
	// conn is how the binaries reach this server: plain, or TLS with the
	// test's certificates.
	conn   temporalconn.Options
	server *devServer
}

// Conn returns connection options for the server, as the binaries take
// them (with the client certificate, for a TLS server); no payload codec.
func (tp *Temporal) Conn() temporalconn.Options { return tp.conn }

// StartTemporal starts `temporal server start-dev` on a free 127.0.0.1 port
// with its own SQLite file and dr-syncer's search attributes, and stops it
// when the test ends.
func StartTemporal(t testing.TB) *Temporal {
	t.Helper()
	dir := t.TempDir()
	tp := &Temporal{Namespace: "default", TaskQueue: temporalconn.DefaultTaskQueue}
	tp.conn = temporalconn.Options{Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
	startServer(t, tp, Binary(t, "temporal"), dir, func(port int) []string {
		return []string{"server", "start-dev",
			"--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--headless",
			"--db-filename", filepath.Join(dir, fmt.Sprintf("temporal-%d.db", port)), "--log-level", "error",
			// SQLite's default rollback journal syncs the disk several
			// times per commit; a test server needs no durability past a
			// crash of the machine, and its commits paced runs of many PVCs.
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"}
	})
	return tp
}

// startServer runs a Temporal server binary with args(port) on a free port,
// waits until tp.conn reaches it, registers dr-syncer's search attributes
// and stops the server when the test ends. A server that exits while
// starting is retried on a new port, up to startAttempts times: as with
// envtest, a port freePort found free can be taken before the server binds
// it, and the dev server takes more free ports for its inner services.
func startServer(t testing.TB, tp *Temporal, bin, dir string, args func(port int) []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		tp.Address = fmt.Sprintf("127.0.0.1:%d", port)
		tp.conn.Address = tp.Address
		tp.server = &devServer{bin: bin, args: args(port), logPath: filepath.Join(dir, fmt.Sprintf("temporal-%d.log", port))}
		tp.server.start(t)
		c, err := tp.server.dial(tp.conn, 60*time.Second)
		if err == nil {
			tp.Client = c
			break
		}
		tp.server.stop()
		out, _ := os.ReadFile(tp.server.logPath)
		if !errors.Is(err, errServerExited) || attempt == startAttempts {
			t.Fatalf("temporal server %s at %s: %v\n%s", bin, tp.Address, err, out)
		}
		t.Logf("temporal server %s at %s (attempt %d of %d): %v; trying another port\n%s", bin, tp.Address, attempt, startAttempts, err, out)
	}
	t.Cleanup(tp.server.stop)
	t.Cleanup(tp.Client.Close)
	// Registered the way users do it (`drsyncer setup`), not by server flags,
	// so every integration test exercises that path.
	s := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
	if _, err := s.EnsureSearchAttributes(context.Background()); err != nil {
		t.Fatalf("register search attributes: %v", err)
	}
	waitForSearchAttributes(t, tp)
}

// Restart stops the server (SIGTERM, as an orchestrator would) and starts it
// again on the same port and database, as a Temporal upgrade or crash-loop
// does: clients and workers must reconnect on their own.
func (tp *Temporal) Restart(t testing.TB) {
	t.Helper()
	tp.server.stop()
	tp.server.start(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		tp.server.failIfExited(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := tp.Client.CheckHealth(ctx, &client.CheckHealthRequest{})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporal server not healthy 60s after its restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// devServer is the Temporal server process.
type devServer struct {
	bin, logPath string
	args         []string
	cmd          *exec.Cmd
	logFile      *os.File
	// exited is closed when the process ends; exitErr is then its status.
	// A closed channel, not a sent value, so every reader sees the exit.
	exited  chan struct{}
	exitErr error
}

var errServerExited = errors.New("exited while starting")

func (d *devServer) start(t testing.TB) {
	t.Helper()
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("create temporal log: %v", err)
	}
	cmd := exec.Command(d.bin, d.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig: a test binary killed by a timeout must not leak a server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", d.bin, err)
	}
	d.cmd, d.logFile, d.exited = cmd, logFile, make(chan struct{})
	go func() {
		d.exitErr = cmd.Wait()
		close(d.exited)
	}()
}

// dial connects to the server once it answers, or fails when it exits or
// does not answer within timeout.
func (d *devServer) dial(conn temporalconn.Options, timeout time.Duration) (client.Client, error) {
	deadline := time.Now().Add(timeout)
	for {
		if d.hasExited() {
			return nil, fmt.Errorf("%w (%v)", errServerExited, d.exitErr)
		}
		c, err := conn.Dial(quietLogger{}, nil)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not reachable after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the server; it is a no-op once stopped.
func (d *devServer) stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
	}
	_ = d.logFile.Close()
	d.cmd = nil
}

func (d *devServer) hasExited() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

func (d *devServer) failIfExited(t testing.TB) {
	t.Helper()
	if d.hasExited() {
		out, _ := os.ReadFile(d.logPath)
		t.Fatalf("temporal server %s exited early (%v):\n%s", d.bin, d.exitErr, out)
	}
}

// waitForSearchAttributes waits until the namespace knows every attribute, so
// a test's first workflow can set them.
func waitForSearchAttributes(t testing.TB, tp *Temporal) {
	t.Helper()
	var names []string
	for name := range contract.SearchAttributeTypes() {
		names = append(names, name)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := tp.Client.OperatorService().ListSearchAttributes(ctx,
			&operatorservice.ListSearchAttributesRequest{Namespace: tp.Namespace})
		cancel()
		missing := ""
		if err == nil {
			for _, n := range names {
				if _, ok := resp.GetCustomAttributes()[n]; !ok {
					missing = n
				}
			}
		}
		if err == nil && missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("search attribute %q not registered after 30s (err %v)", missing, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePort returns a port nothing on 127.0.0.1 listens on, drawn from below
// the kernel's ephemeral range: a port from that range (what binding :0
// gives) can be handed to some client's outgoing connection before the
// server binds it, as hack/run-smoke.sh found too.
func freePort(t testing.TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = l.Close()
			return port
		}
	}
	t.Fatalf("no free port on 127.0.0.1 between 10000 and %d after 100 tries", low)
	return 0
}

// quietLogger drops the SDK's connection chatter from test output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
