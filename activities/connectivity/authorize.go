package connectivity

import (
	"context"
	"fmt"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// checkInput refuses a check whose DR cluster, key Secrets or image are not
// its ClusterMapping's: the check copies the pair's private key into the DR
// cluster and runs a pod there, so a forged start must not pick either.
// The same reasoning as activities.AuthorizedPlan, for a ClusterMapping.
func (a *ConnectivityActivities) checkInput(ctx context.Context, in contract.ConnectivityCheckInput) error {
	const step = "RunConnectivityCheck"
	if in.Mapping == nil || in.Mapping.Name == "" {
		return activities.NonRetryable(contract.ErrTypeInputMismatch,
			"%s refused: its input names no ClusterMapping to check it against (a workflow started outside dr-syncer, "+
				"or a check scheduled by an older worker); the next check runs normally", step)
	}
	want, err := resolve.ConnectivityCheck(ctx, a.Control, a.SystemNamespace, *in.Mapping)
	if p, ok := resolve.IsProblem(err); ok {
		return activities.NonRetryable(contract.ErrTypeInputMismatch, "%s refused: %s", step, p.Message)
	}
	if err != nil {
		return fmt.Errorf("%s: resolve ClusterMapping %s to check the input: %w", step, in.Mapping, err)
	}
	c := activities.NewInputCheck(step, "ClusterMapping", *in.Mapping)
	c.Equal("DR cluster", in.DR, want.DR)
	c.Equal("cluster key Secret", in.ClusterKey, want.ClusterKey)
	c.Equal("agent host key Secret", in.AgentHostKey, want.AgentHostKey)
	c.Equal("image", in.Image, want.Image)
	return c.Err()
}
