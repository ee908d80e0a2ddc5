// Package dataplane holds the loopback end-to-end tests of the data plane:
// the agent, the mount server (real rsync daemon) and the mover (real rsync
// client) wired together on 127.0.0.1. They need no lab and no build tag, so
// `go test ./...` runs them; the lab's end-to-end tests are in test/e2e.
package dataplane
