// Command drsyncer is the dr-syncer CLI: it starts, lists and inspects sync
// workflows on Temporal, lists and restores restore points, and fails over,
// fails back and drills.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/temporalconn"
	"github.com/dr-syncer/dr-syncer/starter"
)

const usage = `drsyncer: run and inspect dr-syncer's sync, restore and recovery workflows on Temporal,
and rotate an agent's SSH host key.

Usage:
  drsyncer [flags] start NS/REPLICATION          start a sync run now (manual run)
  drsyncer [flags] status NS/REPLICATION [--watch [--interval D]]
                                                 phase, percent and current operation of the
                                                 newest run, with bytes, rate and ETA per PVC;
                                                 --watch follows it to its end with a progress
                                                 bar per PVC, prints the result and exits 1
                                                 unless the run completed
  drsyncer [flags] cancel NS/REPLICATION         cancel the running runs; PVC syncs clean up
  drsyncer [flags] retry NS/REPLICATION          re-run after a failed last run (a new run
                                                 that reads the current spec)
  drsyncer [flags] history NS/REPLICATION        past runs with result and duration
  drsyncer [flags] restore-points list NS/REPLICATION [--pvc NAME]
                                                 the restore points of the Replication's DR
                                                 PVCs, newest first
  drsyncer [flags] restore NS/REPLICATION --pvc NAME --point NAME|latest
                   [--to-namespace NS] [--name NEWPVC] [--create-namespace]
                                                 create a new PVC in the DR cluster from a
                                                 restore point and wait until it is bound;
                                                 the DR PVC and its restore points are never
                                                 changed, and an existing PVC is never reused
  drsyncer [flags] failover NS/REPLICATION [--source-unreachable] [--from-restore-points]
                   [--replicas KIND/NAME=N]... [--ready-timeout D] [--id ID] [--no-follow]
                                                 move the workloads to DR: pause syncs, final
                                                 sync, scale the source to zero (each skipped
                                                 when the source is unreachable), scale DR up
                                                 and wait for Ready; prints each step, the RTO
                                                 and the data age
  drsyncer [flags] failback NS/REPLICATION [--ready-timeout D] [--id ID] [--no-follow]
                                                 move them back: sync DR's changes to the source,
                                                 scale DR to zero and the source up, resume syncs
  drsyncer [flags] drill NS/REPLICATION [--namespace NS] [--check-selector SEL --check-command CMD
                   [--check-container C] [--check-timeout D]] [--keep] [--ready-timeout D]
                   [--id ID] [--no-follow]
                                                 bring the DR copy up in a scratch namespace of
                                                 DR, check it and tear it down; syncs go on
                                                 (each of these three: drsyncer COMMAND --help)
  drsyncer [flags] list [--query Q] [--limit N]   list runs of every kind, newest first
  drsyncer [flags] describe WORKFLOW-ID [RUN-ID]  show one run and its progress
  drsyncer [flags] setup                          register dr-syncer's search attributes
                                                  in the Temporal namespace (once per namespace)
  drsyncer rotate-host-key NS/REMOTECLUSTER [--kubeconfig PATH] [--context NAME]
                                                  rotate the SSH host key of the cluster's agent;
                                                  syncs keep working (talks to the Kubernetes API
                                                  of the control cluster, not to Temporal; see
                                                  drsyncer rotate-host-key --help)

A run's workflow ID is replication/NS/REPLICATION/TRIGGER, a restore's
restore/NS/REPLICATION/PVC/TIME, a failover's failover/NS/REPLICATION/ID
(failback/..., drill/... alike). The same runs are in
the Temporal Web UI, and the temporal CLI works on them directly:
  temporal workflow list --query 'DrSyncerReplication = "NS/REPLICATION"'
  temporal workflow describe -w ID
  temporal workflow cancel -w ID
  temporal workflow reset -w ID --type FirstWorkflowTask

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	cliutil.Exit("drsyncer", err)
}

func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("drsyncer", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var temporal temporalconn.Options
	temporal.RegisterFlags(fs)
	ui := fs.String("temporal-ui", cliutil.Env("DRSYNCER_TEMPORAL_UI", starter.DefaultWebUI), "Temporal Web UI address, for links to runs (env DRSYNCER_TEMPORAL_UI)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("missing command: " + commands)
	}
	command, rest := fs.Arg(0), fs.Args()[1:]
	connect := func() (*starter.Starter, func(), error) {
		s, err := starter.Connect(temporal, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Client.Close, nil
	}
	switch command {
	case "list":
		return list(ctx, rest, out, connect)
	case "describe":
		return describe(ctx, rest, out, connect)
	case "setup":
		return setup(ctx, out, connect)
	case "start":
		return startRun(ctx, rest, out, connect, *ui)
	case "status":
		return status(ctx, rest, out, errOut, connect)
	case "cancel":
		return cancelRuns(ctx, rest, out, connect)
	case "retry":
		return retry(ctx, rest, out, connect, *ui)
	case "history":
		return history(ctx, rest, out, connect)
	case "restore-points":
		return restorePoints(ctx, rest, out, errOut, connect)
	case "restore":
		return restore(ctx, rest, out, errOut, connect, *ui)
	case "failover":
		return failover(ctx, rest, out, errOut, connect, *ui)
	case "failback":
		return failback(ctx, rest, out, errOut, connect, *ui)
	case "drill":
		return drill(ctx, rest, out, errOut, connect, *ui)
	case "rotate-host-key":
		return rotateHostKey(ctx, rest, out, errOut, time.Now())
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q: want %s", command, commands)
	}
}

const commands = "start, status, cancel, retry, history, restore-points, restore, failover, failback, drill, rotate-host-key, list, describe or setup"

type connectFunc func() (*starter.Starter, func(), error)

func list(ctx context.Context, args []string, out io.Writer, connect connectFunc) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	query := fs.String("query", "", `Temporal visibility query to narrow the list, e.g. 'ExecutionStatus = "Running"' or 'DrSyncerReplication = "ns/name"'`)
	limit := fs.Int("limit", 50, "most runs to show")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, closeFn, err := connect()
	if err != nil {
		return err
	}
	defer closeFn()
	runs, err := s.List(ctx, starter.ListOptions{Query: *query, Limit: *limit})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintf(out, "no dr-syncer workflows on task queue %q in namespace %q\n", s.TaskQueue, s.Namespace)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW ID\tTYPE\tSTATUS\tSTARTED\tDURATION\tRUN ID")
	now := time.Now()
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.WorkflowID, r.Type, r.Status,
			r.Start.Local().Format(time.DateTime), r.Duration(now).Round(time.Millisecond), r.RunID)
	}
	return tw.Flush()
}

func describe(ctx context.Context, args []string, out io.Writer, connect connectFunc) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: drsyncer describe WORKFLOW-ID [RUN-ID]")
	}
	runID := ""
	if len(args) == 2 {
		runID = args[1]
	}
	s, closeFn, err := connect()
	if err != nil {
		return err
	}
	defer closeFn()
	d, err := s.Describe(ctx, args[0], runID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Workflow ID:\t%s\n", d.WorkflowID)
	fmt.Fprintf(tw, "Run ID:\t%s\n", d.RunID)
	fmt.Fprintf(tw, "Type:\t%s\n", d.Type)
	fmt.Fprintf(tw, "Status:\t%s\n", d.Status)
	fmt.Fprintf(tw, "Started:\t%s\n", d.Start.Local().Format(time.DateTime))
	fmt.Fprintf(tw, "Duration:\t%s\n", d.Duration(time.Now()).Round(time.Millisecond))
	fmt.Fprintf(tw, "History events:\t%d\n", d.HistoryLength)
	for name, value := range d.SearchAttributes {
		fmt.Fprintf(tw, "%s:\t%s\n", name, value)
	}
	for _, a := range d.PendingActivities {
		fmt.Fprintf(tw, "Pending activity:\t%s (%s, attempt %d)\n", a.Type, a.State, a.Attempt)
		if a.Progress != "" {
			fmt.Fprintf(tw, "  progress:\t%s\n", a.Progress)
		}
		if a.LastFailure != "" {
			fmt.Fprintf(tw, "  last failure:\t%s\n", a.LastFailure)
		}
	}
	return tw.Flush()
}

func setup(ctx context.Context, out io.Writer, connect connectFunc) error {
	s, closeFn, err := connect()
	if err != nil {
		return err
	}
	defer closeFn()
	added, err := s.EnsureSearchAttributes(ctx)
	if err != nil {
		return err
	}
	if len(added) == 0 {
		fmt.Fprintf(out, "search attributes already registered in namespace %q\n", s.Namespace)
		return nil
	}
	fmt.Fprintf(out, "registered search attributes %v in namespace %q\n", added, s.Namespace)
	return nil
}
