package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// What failover, failback and drill share: an ID per request, a start,
// and following the run to its result.

// operationFlags are the flags every recovery command takes.
type operationFlags struct {
	id           string
	noFollow     bool
	readyTimeout time.Duration
}

func (o *operationFlags) register(fs *flag.FlagSet, operation, ready string) {
	fs.StringVar(&o.id, "id", "", "the request's ID, the last part of the workflow ID "+operation+"/NS/REPLICATION/ID; the same ID again attaches to that "+
		operation+" instead of starting another (default: the UTC start time, yyyymmdd-hhmmss)")
	fs.BoolVar(&o.noFollow, "no-follow", false, "start the "+operation+", print its workflow ID and return, without following its steps")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 0, "how long to wait for "+ready+" to be Ready before the "+operation+" fails (default "+contract.DefaultReadyTimeout.String()+")")
}

// check validates the flags and fills in the default ID.
func (o *operationFlags) check(command string, now time.Time) error {
	if o.readyTimeout < 0 {
		return fmt.Errorf("%s: --ready-timeout %s is negative: give a duration such as 15m, or leave it out for 10m", command, o.readyTimeout)
	}
	if o.id == "" {
		o.id = defaultOperationID(now)
		return nil
	}
	// The ID ends a workflow ID; sanitized as the controller sanitizes an
	// annotation's value, so both name one request the same way.
	o.id = starter.SanitizeTrigger(o.id)
	return nil
}

// defaultOperationID tells requests made by hand apart, to the second.
func defaultOperationID(now time.Time) string { return now.UTC().Format("20060102-150405") }

// followOperation says what was started and how to watch it, then, unless
// noFollow, prints its steps until it closes and decodes its result into
// result. done is false when there is no result to show: not followed, or
// the run failed (err is then its *starter.RunError, and the exit status 1).
// runOperation is the one shape of failover, failback and drill once their
// flags are right: connect, start the workflow, follow it, print what it did.
func runOperation[Res any](ctx context.Context, out io.Writer, connect connectFunc, ui, operation string, ref contract.ObjectRef,
	op operationFlags, start func(*starter.Starter) (starter.StartedRun, error), report func(Res)) error {
	s, closeFn, err := connect()
	if err != nil {
		return err
	}
	defer closeFn()
	run, err := start(s)
	if err != nil {
		return fmt.Errorf("%s of %s: %w", operation, ref, err)
	}
	var res Res
	if done, err := followOperation(ctx, out, s, run, ui, operation, op.noFollow, &res); !done {
		return err
	}
	report(res)
	return nil
}

func followOperation(ctx context.Context, out io.Writer, s *starter.Starter, run starter.StartedRun, ui, operation string, noFollow bool, result any) (done bool, _ error) {
	verb := "started"
	if !run.Started {
		verb = "already started (this ID was used before), attaching to"
	}
	link := starter.WebUILink(ui, s.Namespace, run.WorkflowID, run.RunID)
	fmt.Fprintf(out, "%s %s (run %s)\n", verb, run.WorkflowID, run.RunID)
	fmt.Fprintf(out, "watch it: drsyncer describe %s, or %s\ncancel it (it stops at a safe point): temporal workflow cancel -w %q\n",
		run.WorkflowID, link, run.WorkflowID)
	if noFollow {
		return false, nil
	}
	fmt.Fprintf(out, "following it; Ctrl-C stops following, not the %s\n", operation)
	err := s.FollowOperation(ctx, run.WorkflowID, run.RunID, out, starter.DefaultFollowInterval)
	var runErr *starter.RunError
	switch {
	case errors.As(err, &runErr):
		return false, fmt.Errorf("%w\nits steps and what each did: drsyncer describe %s, or %s", err, run.WorkflowID, link)
	case err != nil:
		return false, fmt.Errorf("%w; the %s goes on: drsyncer describe %s", err, operation, run.WorkflowID)
	}
	if err := s.WaitRun(ctx, run, result); err != nil {
		return false, fmt.Errorf("read the result of %s: %w", run.WorkflowID, err)
	}
	return true, nil
}

// replicasFlag is --replicas Kind/name=N, repeatable: DR replica overrides.
type replicasFlag map[string]int32

// scalableKinds are the kinds whose replicas a failover sets.
var scalableKinds = []string{"Deployment", "StatefulSet"}

func (r replicasFlag) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r[k]))
	}
	return strings.Join(parts, ",")
}

// Set adds one override; the flag package prefixes its error with the flag.
func (r replicasFlag) Set(v string) error {
	key, n, ok := strings.Cut(v, "=")
	kind, name, okKey := strings.Cut(key, "/")
	if !ok || !okKey || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("want KIND/NAME=N, e.g. Deployment/web=3")
	}
	if !slices.Contains(scalableKinds, kind) {
		return fmt.Errorf("kind %q of %s: want one of %s (CronJobs are resumed, not scaled)", kind, key, strings.Join(scalableKinds, ", "))
	}
	replicas, err := strconv.ParseInt(n, 10, 32)
	if err != nil || replicas < 0 {
		return fmt.Errorf("replicas %q of %s: want a whole number, 0 or more", n, key)
	}
	if _, dup := r[key]; dup {
		return fmt.Errorf("%s is given twice", key)
	}
	r[key] = int32(replicas)
	return nil
}

// dataAge says how old the data DR took over was, and from when.
func dataAge(age time.Duration, asOf time.Time) string {
	if asOf.IsZero() {
		return "data age unknown: no sync had completed, DR holds whatever the last partial sync copied"
	}
	return fmt.Sprintf("data age %s (the source as of %s UTC)", roundDuration(age), asOf.UTC().Format(time.DateTime))
}

func roundDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
