package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// parseReplication reads the "<namespace>/<name>" argument of the
// replication commands.
func parseReplication(command string, args []string) (contract.ObjectRef, error) {
	return parseObjectRef(command, "REPLICATION", args)
}

// parseObjectRef reads a command's one NAMESPACE/NAME argument; kind is
// what the usage calls NAME.
func parseObjectRef(command, kind string, args []string) (contract.ObjectRef, error) {
	if len(args) != 1 {
		return contract.ObjectRef{}, fmt.Errorf("usage: drsyncer %s NAMESPACE/%s", command, kind)
	}
	ns, name, ok := strings.Cut(args[0], "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return contract.ObjectRef{}, fmt.Errorf("drsyncer %s: want NAMESPACE/%s, got %q", command, kind, args[0])
	}
	return contract.ObjectRef{Namespace: ns, Name: name}, nil
}

// connectFor parses the command's <ns>/<replication> argument, then
// connects; every replication command starts this way.
func connectFor(command string, args []string, connect connectFunc) (*starter.Starter, contract.ObjectRef, func(), error) {
	ref, err := parseReplication(command, args)
	if err != nil {
		return nil, ref, nil, err
	}
	s, closeFn, err := connect()
	if err != nil {
		return nil, ref, nil, err
	}
	return s, ref, closeFn, nil
}

// startRun starts a manual run. Its trigger is the start time, so each
// invocation is one run; the controller's sync-now annotation does the same
// from kubectl.
func startRun(ctx context.Context, args []string, out io.Writer, connect connectFunc, ui string) error {
	s, ref, closeFn, err := connectFor("start", args, connect)
	if err != nil {
		return err
	}
	defer closeFn()
	run, err := s.StartRun(ctx, ref, "manual-"+time.Now().UTC().Format("20060102t150405z"))
	if err != nil {
		return err
	}
	printStarted(out, s, run, ui)
	return nil
}

func printStarted(out io.Writer, s *starter.Starter, run starter.StartedRun, ui string) {
	verb := "started"
	if !run.Started {
		verb = "already started"
	}
	fmt.Fprintf(out, "%s %s (run %s)\n", verb, run.WorkflowID, run.RunID)
	fmt.Fprintf(out, "watch it: drsyncer status %s, temporal workflow describe -w %q, or %s\n",
		strings.Join(strings.Split(run.WorkflowID, "/")[1:3], "/"), run.WorkflowID, starter.WebUILink(ui, s.Namespace, run.WorkflowID, run.RunID))
}

const statusUsage = `usage: drsyncer status NS/REPLICATION [--watch [--interval D]]

Shows the newest run of the Replication: phase, PVCs done, and per running
PVC sync its step, bytes, percent and rate. With --watch it follows a running
run until it ends, printing a progress bar per PVC (bytes, rate, ETA) each
time the progress changed, then the run's result; the exit status is 0 only
when the run completed. Ctrl-C stops watching, never the run.`

func status(ctx context.Context, args []string, out, errOut io.Writer, connect connectFunc) error {
	fs := subcommandFlags("status", statusUsage, errOut)
	watch := fs.Bool("watch", false, "follow the run until it ends, then print its result; exit 1 unless it completed")
	every := fs.Duration("interval", starter.DefaultWatchInterval, "with --watch, how often to ask the run for its progress")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *every <= 0 {
		return fmt.Errorf("status: --interval %s: give a positive duration such as 2s", *every)
	}
	s, ref, closeFn, err := connectFor("status", positional, connect)
	if err != nil {
		return err
	}
	defer closeFn()
	if *watch {
		return watchStatus(ctx, s, ref, out, *every)
	}
	st, err := s.Status(ctx, ref)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Run:\t%s (run %s)\n", st.WorkflowID, st.RunID)
	fmt.Fprintf(tw, "Status:\t%s\n", st.Status)
	fmt.Fprintf(tw, "Started:\t%s\n", st.Start.Local().Format(time.DateTime))
	if !st.Close.IsZero() {
		fmt.Fprintf(tw, "Duration:\t%s\n", st.Close.Sub(st.Start).Round(time.Millisecond))
	}
	if st.Unanswered {
		fmt.Fprintf(tw, "Progress:\tunknown: no worker answered within %s (all busy, or none running)\n", starter.QueryTimeout)
	}
	if p := st.Progress; p != nil {
		fmt.Fprintf(tw, "Phase:\t%s\n", p.Phase)
		fmt.Fprintf(tw, "Progress:\t%d%% (%d of %d PVCs done, %d failed)\n", p.Percent, p.PVCsDone, p.PVCsTotal, p.PVCsFailed)
	}
	for _, pvc := range st.PVCs {
		line := pvc.Phase
		if tr := pvc.Transfer; tr != nil {
			r := tr.Readable()
			line += fmt.Sprintf(", %d of %d bytes (%.1f%%), %s", r.BytesDone, r.BytesTotal, r.Percent, contract.Rate(r.RateBytesPerSec))
			if r.ETA != "" {
				line += ", ETA " + r.ETA
			}
		}
		if pvc.LastFailure != "" {
			line += fmt.Sprintf(", attempt %d, last failure: %s", pvc.Attempt, pvc.LastFailure)
		}
		fmt.Fprintf(tw, "PVC %s:\t%s\n", pvc.PVC, line)
	}
	if st.Error != "" {
		fmt.Fprintf(tw, "Error:\t%s\n", st.Error)
	}
	return tw.Flush()
}

func cancelRuns(ctx context.Context, args []string, out io.Writer, connect connectFunc) error {
	s, ref, closeFn, err := connectFor("cancel", args, connect)
	if err != nil {
		return err
	}
	defer closeFn()
	cancelled, err := s.Cancel(ctx, ref)
	if err != nil {
		return err
	}
	if len(cancelled) == 0 {
		fmt.Fprintf(out, "no running runs of %s\n", ref)
		return nil
	}
	for _, id := range cancelled {
		fmt.Fprintf(out, "cancel requested: %s\n", id)
	}
	return nil
}

func retry(ctx context.Context, args []string, out io.Writer, connect connectFunc, ui string) error {
	s, ref, closeFn, err := connectFor("retry", args, connect)
	if err != nil {
		return err
	}
	defer closeFn()
	run, err := s.Retry(ctx, ref)
	if errors.Is(err, starter.ErrNothingToRetry) {
		fmt.Fprintln(out, err)
		return nil
	}
	if err != nil {
		return err
	}
	printStarted(out, s, run, ui)
	return nil
}

func history(ctx context.Context, args []string, out io.Writer, connect connectFunc) error {
	s, ref, closeFn, err := connectFor("history", args, connect)
	if err != nil {
		return err
	}
	defer closeFn()
	runs, err := s.History(ctx, ref, 50)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintf(out, "no runs of %s\n", ref)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRIGGER\tRESULT\tSTARTED\tDURATION\tWORKFLOW ID\tRUN ID")
	now := time.Now()
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", starter.TriggerOf(r.WorkflowID), r.Status,
			r.Start.Local().Format(time.DateTime), r.Duration(now).Round(time.Millisecond), r.WorkflowID, r.RunID)
	}
	return tw.Flush()
}
