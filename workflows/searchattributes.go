// Package workflows holds the deterministic orchestration of dr-syncer: no
// I/O, only activity calls, timers and child workflows.
package workflows
