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
	conn temporalconn.Options
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
	logPath := filepath.Join(dir, "temporal.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create temporal log: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig: a test binary killed by a timeout must not leak a server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		_ = logFile.Close()
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("temporal server %s exited early (%v):\n%s", bin, err, out)
		default:
		}
		c, err := tp.conn.Dial(quietLogger{}, nil)
		if err == nil {
			tp.Client = c
			t.Cleanup(c.Close)
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
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
