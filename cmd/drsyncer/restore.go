package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

const (
	restorePointsUsage = "usage: drsyncer restore-points list NAMESPACE/REPLICATION [--pvc NAME]"
	restoreUsage       = "usage: drsyncer restore NAMESPACE/REPLICATION --pvc NAME --point NAME|latest [--to-namespace NS] [--name NEWPVC] [--create-namespace]"
)

// restorePoints runs `restore-points list`: a RestorePoints workflow, and
// its result as a table.
func restorePoints(ctx context.Context, args []string, out, errOut io.Writer, connect connectFunc) error {
	if len(args) == 0 || args[0] != "list" {
		return errors.New(restorePointsUsage)
	}
	fs := subcommandFlags("restore-points list", restorePointsUsage, errOut)
	pvc := fs.String("pvc", "", "list only the restore points of this DR PVC")
	positional, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	s, ref, closeFn, err := connectFor("restore-points list", positional, connect)
	if err != nil {
		return err
	}
	defer closeFn()
	res, err := s.RestorePoints(ctx, contract.RestorePointsInput{Replication: ref, PVC: *pvc})
	if err != nil {
		return fmt.Errorf("list restore points of %s: %w", ref, err)
	}
	where := fmt.Sprintf("cluster %s, namespace %s", res.DestinationCluster, res.DestinationNamespace)
	if len(res.Points) == 0 {
		of := ref.String()
		if *pvc != "" {
			of += " (PVC " + *pvc + ")"
		}
		fmt.Fprintf(out, "no restore points of %s in %s: they are taken after good syncs when the Replication sets pvcConfig.restorePoints.keep\n", of, where)
		return nil
	}
	fmt.Fprintf(out, "restore points of %s in %s, newest first:\n", ref, where)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PVC\tRESTORE POINT\tCOPIED AT (UTC)\tSIZE\tRUN")
	for _, p := range res.Points {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.PVC, p.Name, p.CopiedAt.UTC().Format(time.DateTime), p.Size, p.Run)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "restore one into a new PVC: drsyncer restore %s --pvc PVC --point NAME|latest\n", ref)
	return nil
}

// restore runs `restore`: starts a RestorePVC workflow, waits for it and
// says what it made and how to use it.
func restore(ctx context.Context, args []string, out, errOut io.Writer, connect connectFunc, ui string) error {
	fs := subcommandFlags("restore", restoreUsage, errOut)
	in := contract.RestoreInput{}
	fs.StringVar(&in.PVC, "pvc", "", "the DR PVC to restore (named as its source PVC); required")
	fs.StringVar(&in.Point, "point", "", `the restore point's name (see restore-points list), or "latest"; required`)
	fs.StringVar(&in.ToNamespace, "to-namespace", "", "namespace of the DR cluster for the new PVC (default: the DR namespace)")
	fs.StringVar(&in.Name, "name", "", "the new PVC's name (default: PVC-restored-<time the point holds>)")
	fs.BoolVar(&in.CreateNamespace, "create-namespace", false, "create --to-namespace when it does not exist")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	ref, err := parseReplication("restore", positional)
	if err != nil {
		return err
	}
	in.Replication = ref
	switch {
	case in.PVC == "":
		return errors.New("restore: --pvc is required: the DR PVC to restore\n" + restoreUsage)
	case in.Point == "":
		return fmt.Errorf("restore: --point is required: a restore point of %s (drsyncer restore-points list %s --pvc %s), or latest\n%s",
			in.PVC, ref, in.PVC, restoreUsage)
	}
	if problem := in.Problem(); problem != "" {
		return fmt.Errorf("restore: %s", problem)
	}
	s, closeFn, err := connect()
	if err != nil {
		return err
	}
	defer closeFn()
	run, err := s.StartRestore(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "started %s (run %s)\nwaiting for it; Ctrl-C stops waiting, not the restore (%s)\n",
		run.WorkflowID, run.RunID, starter.WebUILink(ui, s.Namespace, run.WorkflowID, run.RunID))
	var res contract.RestoreResult
	if err := s.WaitRun(ctx, run, &res); err != nil {
		var runErr *starter.RunError
		if errors.As(err, &runErr) {
			return fmt.Errorf("%w\nthe DR PVC and its restore points are untouched, and the restore removed its temporary objects; details: drsyncer describe %s",
				err, run.WorkflowID)
		}
		return fmt.Errorf("%w; the restore goes on: drsyncer describe %s", err, run.WorkflowID)
	}
	printRestored(out, in, res)
	return nil
}

func printRestored(out io.Writer, in contract.RestoreInput, res contract.RestoreResult) {
	pvc := res.PVC
	fmt.Fprintf(out, "restored PVC %s in namespace %s of cluster %s\n", pvc.Name, pvc.Namespace, pvc.Cluster.Name)
	fmt.Fprintf(out, "  from restore point %s of DR PVC %s/%s, holding the source as of %s UTC\n",
		res.Point.Name, res.FromNamespace, in.PVC, res.Point.CopiedAt.UTC().Format(time.DateTime))
	binding := "bound"
	if !res.Bound {
		binding = "binds when a pod first uses it (its class waits for the first consumer)"
	}
	fmt.Fprintf(out, "  storage class %s, size %s, %s\n", res.StorageClass, res.Size, binding)
	fmt.Fprintf(out, "use it: persistentVolumeClaim.claimName: %s in a pod of namespace %s\n", pvc.Name, pvc.Namespace)
	fmt.Fprintf(out, "the DR PVC %s and its restore points are untouched; the new PVC is yours: no dr-syncer sync or cleanup touches it\n", in.PVC)
}

// subcommandFlags is a flag set whose -help prints usage and the flags to errOut.
func subcommandFlags(name, usage string, errOut io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags before and after the positional arguments,
// since `restore NS/REPLICATION --pvc NAME` puts them after; the flag
// package alone stops at the first positional one.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
