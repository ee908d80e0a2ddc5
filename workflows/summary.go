package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// The Web UI shows each activity's and timer's Summary in the run's
// timeline instead of only its type, and the workflow's current details
// (workflow.SetCurrentDetails, read by the __temporal_workflow_metadata
// query) on the run's page. Both are user metadata of a command, not part
// of what replay compares, and current details are no command at all, so
// recorded histories replay unchanged (replay_test.go proves it).

// step is ctx whose next activities show summary in the Web UI.
func step(ctx workflow.Context, summary string) workflow.Context {
	o := workflow.GetActivityOptions(ctx)
	o.Summary = summary
	return workflow.WithActivityOptions(ctx, o)
}

// newTimer is workflow.NewTimer with a summary the Web UI shows.
func newTimer(ctx workflow.Context, d time.Duration, summary string) workflow.Future {
	return workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: summary})
}

// pvcRoute is a PVC sync's "source → destination", as its summaries say it.
func pvcRoute(in contract.PVCSyncInput) string {
	return fmt.Sprintf("%s → %s/%s", in.Source, in.Destination.Name, in.DestinationNamespace)
}

// planRoute is a Replication run's "source → destination" by cluster and namespace.
func planRoute(plan contract.ReplicationPlan) string {
	return fmt.Sprintf("%s/%s → %s/%s", plan.Source.Name, plan.SourceNamespace, plan.Destination.Name, plan.DestinationNamespace)
}

// showRunProgress keeps a Replication run's current details at its progress.
func showRunProgress(ctx workflow.Context, header string, p *contract.ReplicationProgress) {
	workflow.SetCurrentDetails(ctx, header+p.Markdown())
}

// showSteps keeps a failover's, failback's or drill's current details at
// its steps: one line each, marked as the CLI marks them.
func showSteps(ctx workflow.Context, steps []contract.Step) {
	var b strings.Builder
	for _, s := range steps {
		mark := map[contract.StepState]string{contract.StepRunning: "→", contract.StepDone: "✓",
			contract.StepFailed: "✗", contract.StepSkipped: "–"}[s.State]
		line := fmt.Sprintf("- %s **%s**", mark, s.Name)
		if !s.Ended.IsZero() && s.State != contract.StepSkipped {
			line += " " + s.Ended.Sub(s.Started).Round(100*time.Millisecond).String()
		}
		if s.Detail != "" {
			line += ": " + s.Detail
		}
		b.WriteString(line + "\n")
	}
	workflow.SetCurrentDetails(ctx, strings.TrimSuffix(b.String(), "\n"))
}
