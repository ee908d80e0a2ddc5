package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
)

// DefaultFollowInterval is how often FollowOperation asks a run for its steps.
const DefaultFollowInterval = time.Second

// FollowOperation prints the steps of a failover, failback or drill as they
// start and end, read from its contract.StepsQuery every `every`, until the
// run closes; then the outcome line. It returns nil when the run completed
// and the run's *RunError when it did not. A query that fails (no worker is
// running, or the server is briefly away) prints nothing and is tried again
// next time: following outlasts a worker restart. Ctrl-C (ctx) stops
// following, never the run.
func (s *Starter) FollowOperation(ctx context.Context, workflowID, runID string, out io.Writer, every time.Duration) error {
	if every <= 0 {
		every = DefaultFollowInterval
	}
	printer := newStepPrinter(out)
	for {
		ws, resp, err := s.observe(ctx, workflowID, runID, nil)
		if errors.Is(err, ErrRunNotFound) {
			return err
		}
		if err == nil {
			runID = ws.RunID
			if steps, ok := s.querySteps(ctx, workflowID, runID); ok {
				printer.print(steps)
			}
			if !ws.Running() {
				return s.finishFollow(ctx, printer, ws, resp.GetWorkflowExecutionInfo().GetType().GetName())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following %s: %w", workflowID, ctx.Err())
		case <-time.After(every):
		}
	}
}

// finishFollow prints the steps the run's result holds (the last poll may
// have missed the final ones) and the outcome line.
func (s *Starter) finishFollow(ctx context.Context, printer *stepPrinter, ws WorkflowState, workflowType string) error {
	// Every recovery result carries its steps under "steps".
	var result struct {
		Steps []contract.Step `json:"steps"`
	}
	err := s.WaitRun(ctx, StartedRun{WorkflowID: ws.WorkflowID, RunID: ws.RunID}, &result)
	printer.print(result.Steps)
	took := formatStepDuration(ws.Close.Sub(ws.Start))
	if err == nil {
		fmt.Fprintf(printer.out, "✓ %s %s completed in %s\n", workflowType, ws.WorkflowID, took)
		return nil
	}
	message := err.Error()
	var runErr *RunError
	if errors.As(err, &runErr) {
		message = runErr.Message
	}
	fmt.Fprintf(printer.out, "✗ %s %s %s after %s: %s\n", workflowType, ws.WorkflowID, strings.ToLower(ws.Status), took, message)
	return err
}

// querySteps asks a run for its steps; false when it did not answer.
func (s *Starter) querySteps(ctx context.Context, workflowID, runID string) ([]contract.Step, bool) {
	qctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	v, err := s.Client.QueryWorkflow(qctx, workflowID, runID, contract.StepsQuery)
	if err != nil {
		return nil, false
	}
	var p contract.OperationProgress
	if err := v.Get(&p); err != nil {
		return nil, false
	}
	return p.Steps, true
}

// stepPrinter prints each step once when it is first seen running and
// once when it has ended, whatever snapshots it is shown in between. A step
// first seen already ended gets only its end line.
type stepPrinter struct {
	out     io.Writer
	started map[string]bool
	ended   map[string]bool
}

func newStepPrinter(out io.Writer) *stepPrinter {
	return &stepPrinter{out: out, started: map[string]bool{}, ended: map[string]bool{}}
}

// print writes what changed in steps since the snapshots printed before.
func (p *stepPrinter) print(steps []contract.Step) {
	for i, st := range steps {
		// Steps are listed in the order they started, so the position tells
		// apart two steps of one name (a cancelled failover's second scale).
		key := fmt.Sprintf("%d/%s", i, st.Name)
		if p.ended[key] {
			continue
		}
		if st.State == contract.StepRunning {
			if !p.started[key] {
				p.started[key] = true
				fmt.Fprintf(p.out, "→ %s\n", st.Name)
			}
			continue
		}
		p.started[key], p.ended[key] = true, true
		fmt.Fprintln(p.out, stepEndLine(st))
	}
}

// stepEndLine is the line of a step that ended: "✓ PauseSyncs 1.2s  detail",
// "– FinalSync skipped: detail" or "✗ WaitReady 10m0s: detail".
func stepEndLine(st contract.Step) string {
	took := ""
	if !st.Started.IsZero() && !st.Ended.IsZero() {
		took = " " + formatStepDuration(st.Ended.Sub(st.Started))
	}
	switch st.State {
	case contract.StepSkipped:
		return joinDetail("– "+st.Name+" skipped", ": ", st.Detail)
	case contract.StepFailed:
		return joinDetail("✗ "+st.Name+took, ": ", st.Detail)
	case contract.StepDone:
		return joinDetail("✓ "+st.Name+took, "  ", st.Detail)
	}
	// A state this CLI does not know yet is still shown, not dropped.
	return joinDetail("? "+st.Name+took+" "+string(st.State), ": ", st.Detail)
}

func joinDetail(line, sep, detail string) string {
	if detail == "" {
		return line
	}
	return line + sep + detail
}

// formatStepDuration is to a tenth of a second under a minute, to the
// second above: precision a person reading an RTO can use.
func formatStepDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
