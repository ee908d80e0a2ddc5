package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/starter"
)

const (
	failoverUsage = `usage: drsyncer failover NAMESPACE/REPLICATION [--source-unreachable] [--from-restore-points]
                 [--replicas KIND/NAME=N]... [--ready-timeout D] [--id ID] [--no-follow]

Moves the Replication's workloads to its DR cluster, as workflow
failover/NAMESPACE/REPLICATION/ID. Planned, when the source answers: syncs
pause, a final sync runs, the source workloads scale to zero (CronJobs are
suspended). Unplanned, when the source is unreachable: every source step is
skipped, and the output says so. Then DR scales up to the replicas the
source had and waits until every workload is Ready. Syncs stay paused until
drsyncer failback. Cancelling it finishes the scale-up it began or gives the
source its replicas back: both sides are never left scaled down.

Flags:`
	failbackUsage = `usage: drsyncer failback NAMESPACE/REPLICATION [--ready-timeout D] [--id ID] [--no-follow]

Moves a failed-over Replication's workloads back to its source, as workflow
failback/NAMESPACE/REPLICATION/ID: what DR wrote meanwhile is synced back into
the source (only what changed moves), DR scales to zero, the source scales up
to its recorded replicas, and syncs resume from the source to DR.

Flags:`
	drillUsage = `usage: drsyncer drill NAMESPACE/REPLICATION [--namespace NS] [--check-selector SEL --check-command CMD
                 [--check-container C] [--check-timeout D]] [--keep] [--ready-timeout D] [--id ID] [--no-follow]

Rehearses a failover without touching anything that runs, as workflow
drill/NAMESPACE/REPLICATION/ID: the DR copy comes up in a scratch namespace
of the DR cluster (PVCs cloned from restore points, or copied when there are
none), is scaled up and waited for, optionally checked by a command in one of
its pods, and torn down. Replication keeps running throughout.

Flags:`
)

// failover runs `failover`: starts a Failover workflow and follows it.
func failover(ctx context.Context, args []string, out, errOut io.Writer, connect connectFunc, ui string) error {
	in, op, err := parseFailover(args, errOut, time.Now())
	if err != nil {
		return err
	}
	return runOperation(ctx, out, connect, ui, "failover", in.Replication, op,
		func(s *starter.Starter) (starter.StartedRun, error) { return s.StartFailover(ctx, in, op.id) },
		func(res contract.FailoverResult) { printFailedOver(out, in.Replication, res) })
}

// parseFailover reads failover's flags and argument; no connection is made
// before they are right.
func parseFailover(args []string, errOut io.Writer, now time.Time) (contract.FailoverInput, operationFlags, error) {
	fs := subcommandFlags("failover", failoverUsage, errOut)
	in := contract.FailoverInput{}
	replicas := replicasFlag{}
	var op operationFlags
	fs.BoolVar(&in.SourceUnreachable, "source-unreachable", false, "the source cluster is lost: skip every source step (final sync, scale-down) without trying it; "+
		"without this flag the failover tries the source and goes unplanned only when it does not answer")
	fs.BoolVar(&in.FromRestorePoints, "from-restore-points", false, "restore each DR PVC from its latest restore point when the last sync did not complete, rather than use the partly synced copy "+
		"(the live copy's volume is kept: reclaim policy Retain, labelled dr-syncer.io/replaced-by; a PVC without a restore point keeps its live copy)")
	fs.Var(replicas, "replicas", "DR replicas of one workload, `KIND/NAME=N` (Deployment or StatefulSet), instead of the source's recorded replicas; repeat for more workloads")
	op.register(fs, "failover", "the DR workloads")
	ref, err := parseOperation(fs, "failover", args)
	if err == nil {
		err = op.check("failover", now)
	}
	if err != nil {
		return in, op, err
	}
	in.Replication, in.ReadyTimeout = ref, op.readyTimeout
	if len(replicas) > 0 {
		in.Replicas = replicas
	}
	return in, op, nil
}

func printFailedOver(out io.Writer, ref contract.ObjectRef, res contract.FailoverResult) {
	fmt.Fprintf(out, "%s failover: RTO %s (request to every workload Ready in DR); %s\n", res.Mode, roundDuration(res.RTO), dataAge(res.DataAge, res.DataAsOf))
	if len(res.Restored) > 0 {
		fmt.Fprintf(out, "restored from their latest restore points: %s\n", strings.Join(res.Restored, ", "))
	}
	fmt.Fprintf(out, "DR runs the workloads now; syncs stay paused until: drsyncer failback %s\n", ref)
}

// failback runs `failback`: starts a Failback workflow and follows it.
func failback(ctx context.Context, args []string, out, errOut io.Writer, connect connectFunc, ui string) error {
	in, op, err := parseFailback(args, errOut, time.Now())
	if err != nil {
		return err
	}
	return runOperation(ctx, out, connect, ui, "failback", in.Replication, op,
		func(s *starter.Starter) (starter.StartedRun, error) { return s.StartFailback(ctx, in, op.id) },
		func(res contract.FailbackResult) {
			fmt.Fprintf(out, "failback took %s (request to every source workload Ready); the source runs the workloads, DR is at zero, and syncs to DR resume\n",
				roundDuration(res.Duration))
		})
}

func parseFailback(args []string, errOut io.Writer, now time.Time) (contract.FailbackInput, operationFlags, error) {
	fs := subcommandFlags("failback", failbackUsage, errOut)
	var op operationFlags
	op.register(fs, "failback", "the source workloads")
	ref, err := parseOperation(fs, "failback", args)
	if err == nil {
		err = op.check("failback", now)
	}
	return contract.FailbackInput{Replication: ref, ReadyTimeout: op.readyTimeout}, op, err
}

// drill runs `drill`: starts a Drill workflow and follows it.
func drill(ctx context.Context, args []string, out, errOut io.Writer, connect connectFunc, ui string) error {
	in, op, err := parseDrill(args, errOut, time.Now())
	if err != nil {
		return err
	}
	return runOperation(ctx, out, connect, ui, "drill", in.Replication, op,
		func(s *starter.Starter) (starter.StartedRun, error) { return s.StartDrill(ctx, in, op.id) },
		func(res contract.DrillResult) { printDrilled(out, res) })
}

func parseDrill(args []string, errOut io.Writer, now time.Time) (contract.DrillInput, operationFlags, error) {
	fs := subcommandFlags("drill", drillUsage, errOut)
	in := contract.DrillInput{}
	check := contract.DrillCheck{}
	var command cliutil.StringList
	var op operationFlags
	fs.StringVar(&in.Namespace, "namespace", "", "the scratch namespace in the DR cluster (default: the DR namespace, -drill- and 8 characters of a hash of the workflow ID)")
	fs.StringVar(&check.Selector, "check-selector", "", `label selector of the pod to run --check-command in, e.g. "app=db"; required with --check-command`)
	fs.StringVar(&check.Container, "check-container", "", "container of that pod to run the check in (default: its first)")
	fs.Var(&command, "check-command", "`CMD` run once the drill is Ready; its failure fails the drill. Given once, it runs under sh -c (--check-command 'pg_isready -h localhost'); "+
		"repeated, each is one argument, run without a shell (--check-command pg_isready --check-command -h ...)")
	fs.DurationVar(&check.Timeout, "check-timeout", 0, "how long the check command may run (default: the drill workflow's, 5m)")
	fs.BoolVar(&in.Keep, "keep", false, "leave the scratch namespace for a person to look at; delete it when done")
	op.register(fs, "drill", "the drill's workloads")
	ref, err := parseOperation(fs, "drill", args)
	if err == nil {
		err = op.check("drill", now)
	}
	if err != nil {
		return in, op, err
	}
	in.Replication, in.ReadyTimeout = ref, op.readyTimeout
	if in.Check, err = drillCheck(check, command); err != nil {
		return in, op, err
	}
	if in.Namespace != "" {
		if problems := validation.IsDNS1123Label(in.Namespace); len(problems) > 0 {
			return in, op, fmt.Errorf("drill: --namespace %q is not a namespace name: %s", in.Namespace, strings.Join(problems, "; "))
		}
	}
	return in, op, nil
}

// drillCheck assembles the check from its flags; nil without one.
func drillCheck(check contract.DrillCheck, command []string) (*contract.DrillCheck, error) {
	if len(command) == 0 {
		if check.Selector != "" || check.Container != "" || check.Timeout != 0 {
			return nil, errors.New("drill: --check-selector, --check-container and --check-timeout need --check-command: the command to run in the drill's pod")
		}
		return nil, nil
	}
	if check.Selector == "" {
		return nil, errors.New(`drill: --check-command needs --check-selector: the labels of the pod to run it in, e.g. "app=db"`)
	}
	if _, err := labels.Parse(check.Selector); err != nil {
		return nil, fmt.Errorf("drill: --check-selector %q is not a label selector (want e.g. app=db,tier!=cache): %w", check.Selector, err)
	}
	if check.Timeout < 0 {
		return nil, fmt.Errorf("drill: --check-timeout %s is negative", check.Timeout)
	}
	check.Command = command
	if len(command) == 1 {
		// One value is a command line, which needs a shell to split it.
		check.Command = []string{"sh", "-c", command[0]}
	}
	return &check, nil
}

func printDrilled(out io.Writer, res contract.DrillResult) {
	fmt.Fprintf(out, "drill: RTO %s (request to every workload Ready in namespace %s); %s\n", roundDuration(res.RTO), res.Namespace, dataAge(res.DataAge, res.DataAsOf))
	pvcs := make([]string, 0, len(res.PVCs))
	for pvc := range res.PVCs {
		pvcs = append(pvcs, pvc)
	}
	sort.Strings(pvcs)
	for _, pvc := range pvcs {
		fmt.Fprintf(out, "  PVC %s: %s\n", pvc, res.PVCs[pvc])
	}
	if res.CheckOutput != "" {
		fmt.Fprintf(out, "check output:\n%s\n", strings.TrimRight(res.CheckOutput, "\n"))
	}
	if res.TornDown {
		fmt.Fprintf(out, "scratch namespace %s torn down; the replica and its syncs were untouched\n", res.Namespace)
		return
	}
	fmt.Fprintf(out, "scratch namespace %s kept: delete it in the DR cluster when done (kubectl delete namespace %s)\n", res.Namespace, res.Namespace)
}

// parseOperation parses a recovery command's flags, wherever they stand,
// and its NAMESPACE/REPLICATION argument.
func parseOperation(fs *flag.FlagSet, command string, args []string) (contract.ObjectRef, error) {
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return contract.ObjectRef{}, err
	}
	return parseReplication(command, positional)
}
