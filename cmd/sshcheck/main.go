// Command sshcheck is the connectivity check pod's entrypoint: it proves
// that this pod reaches every source agent given as host:port over SSH.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sshcheck.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
