package agent

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/dr-syncer/dr-syncer/contract"
)

// notSuperseded asks Temporal, with one heartbeat, whether the rollout was
// cancelled before anything is written. The controller cancels a rollout
// that a newer version supersedes, but an activity learns of that only
// through a heartbeat (the workflow does not wait for it): a cancelled
// rollout planned before a mapping's key existed otherwise went on to
// write its authorized keys, without that key, and its version over its
// successor's, and the agent refused that mapping's syncs until drift
// detection re-applied the successor a minute later. The first heartbeat
// of an attempt is sent at once, not batched, and a cancellation (or a
// closed workflow) in its answer cancels ctx.
func notSuperseded(ctx context.Context, in contract.AgentRolloutInput) error {
	if !activity.IsActivity(ctx) {
		return nil // called directly, as tests do: no workflow to ask
	}
	activity.RecordHeartbeat(ctx)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agent rollout %s of RemoteCluster %s was cancelled (superseded) before it wrote anything: %w", in.Version, in.Cluster.Key(), err)
	}
	return nil
}
