package integration

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// A small workflow that carries a secret through every kind of payload
// Temporal stores or returns: its input, an activity's input and
// heartbeats, a query result, a signal and its result. The Temporal
// security tests run it instead of a Replication, which needs API servers
// that have nothing to do with the connection under test.

const (
	secretWorkflowName = "SecretCarrier"
	secretActivityName = "SecretHeartbeats"
	secretQuery        = "secret"
	secretSignal       = "secret-done"
)

type secret struct{ Marker string }

func secretWorkflow(ctx workflow.Context, in secret) (secret, error) {
	if err := workflow.SetQueryHandler(ctx, secretQuery, func() (secret, error) { return in, nil }); err != nil {
		return secret{}, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	if err := workflow.ExecuteActivity(actx, secretActivityName, in).Get(ctx, nil); err != nil {
		return secret{}, err
	}
	var done secret
	workflow.GetSignalChannel(ctx, secretSignal).Receive(ctx, &done)
	return secret{Marker: in.Marker + "+" + done.Marker}, nil
}

// secretActivities heartbeat their input until release is closed, so a test
// can read the heartbeat of a pending activity.
type secretActivities struct{ release chan struct{} }

func (a *secretActivities) heartbeat(ctx context.Context, in secret) error {
	for {
		activity.RecordHeartbeat(ctx, in)
		select {
		case <-a.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runSecretWorker polls taskQueue on c, the client under test, until the
// test ends; closing the returned channel lets the activity finish.
func runSecretWorker(t *testing.T, c client.Client, taskQueue string) chan struct{} {
	t.Helper()
	acts := &secretActivities{release: make(chan struct{})}
	w := sdkworker.New(c, taskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(secretWorkflow, workflow.RegisterOptions{Name: secretWorkflowName})
	w.RegisterActivityWithOptions(acts.heartbeat, activity.RegisterOptions{Name: secretActivityName})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker on %s: %v", taskQueue, err)
	}
	t.Cleanup(w.Stop)
	return acts.release
}
