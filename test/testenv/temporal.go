package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	port := freePort(t)
	dir := t.TempDir()
	tp := &Temporal{Address: fmt.Sprintf("127.0.0.1:%d", port), Namespace: "default", TaskQueue: temporalconn.DefaultTaskQueue}
	tp.conn = temporalconn.Options{Address: tp.Address, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
	startServer(t, tp, Binary(t, "temporal"), dir, "server", "start-dev",
		"--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--headless",
		"--db-filename", filepath.Join(dir, "temporal.db"), "--log-level", "error")
	return tp
}

// startServer runs a Temporal server binary, waits until tp.conn reaches
// it, registers dr-syncer's search attributes and stops the server when
// the test ends.
func startServer(t testing.TB, tp *Temporal, bin, dir string, args ...string) {
	t.Helper()
	tp.server = &devServer{bin: bin, args: args, logPath: filepath.Join(dir, "temporal.log")}
	tp.server.start(t)
	t.Cleanup(tp.server.stop)

	deadline := time.Now().Add(60 * time.Second)
	for {
		tp.server.failIfExited(t)
		c, err := tp.conn.Dial(quietLogger{}, nil)
		if err == nil {
			tp.Client = c
			t.Cleanup(c.Close)
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(tp.server.logPath)
			t.Fatalf("temporal server not reachable at %s after 60s: %v\n%s", tp.Address, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
	exited       chan error
}

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
	d.cmd, d.logFile, d.exited = cmd, logFile, make(chan error, 1)
	go func() { d.exited <- cmd.Wait() }()
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

func (d *devServer) failIfExited(t testing.TB) {
	t.Helper()
	select {
	case err := <-d.exited:
		out, _ := os.ReadFile(d.logPath)
		t.Fatalf("temporal server %s exited early (%v):\n%s", d.bin, err, out)
	default:
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

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// quietLogger drops the SDK's connection chatter from test output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
