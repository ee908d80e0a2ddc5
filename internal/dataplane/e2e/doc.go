// Package e2e holds the loopback end-to-end tests of the data plane: the
// agent, the mount server (real rsync daemon) and the mover (real rsync
// client) wired together on 127.0.0.1.
package e2e
