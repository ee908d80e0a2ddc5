package starter

import (
	"context"
	"fmt"
	"strings"

	"github.com/dr-syncer/dr-syncer/contract"
)

// RouteFunc names a Replication's source → destination for the Web UI, e.g.
// "prod/shop → dr/shop"; "" when it cannot tell (the Replication is gone,
// its cache not yet synced). It must not fail a start: a run without a
// route in its summary is still the right run.
type RouteFunc func(ctx context.Context, ref contract.ObjectRef) string

// runMeta is a run's Temporal UI metadata (StaticSummary, StaticDetails):
// the one line the workflow list shows, and the Markdown its page shows.
type runMeta struct {
	Summary string
	Details string
	// Route is the source → destination the summary names; "" when unknown.
	Route string
}

// Trigger kinds, as the Web UI names what started a run.
const (
	kindScheduled  = "schedule"
	kindContinuous = "continuous"
	kindRetry      = "retry"
	kindManual     = "manual"
)

// triggerKind says what kind of start a Replication run's trigger is: the
// Schedule, the continuous workflow, a retry of a failed run, or a person
// (a sync-now annotation, drsyncer sync).
func triggerKind(trigger string) string {
	switch {
	case trigger == contract.TriggerScheduled:
		return kindScheduled
	case trigger == contract.TriggerContinuous:
		return kindContinuous
	case strings.HasPrefix(trigger, contract.TriggerRetryPrefix):
		return kindRetry
	default:
		return kindManual
	}
}

// replicationMeta is the metadata of any run about one Replication: what
// (a sync, a failover, a drill...), which Replication, where from and to,
// and what started it. trigger may be "" (failover, restore: the kind says it).
func (s *Starter) replicationMeta(ctx context.Context, what string, ref contract.ObjectRef, trigger string) runMeta {
	route := ""
	if s.Routes != nil {
		route = s.Routes(ctx, ref)
	}
	summary := what + " " + ref.String()
	if route != "" {
		summary += ": " + route
	}
	var details strings.Builder
	fmt.Fprintf(&details, "**Replication:** %s\n\n", ref)
	if route != "" {
		fmt.Fprintf(&details, "**Source → destination:** %s\n\n", route)
	}
	if trigger != "" {
		kind := triggerKind(trigger)
		summary += " (" + kind + ")"
		fmt.Fprintf(&details, "**Trigger:** %s (%s)\n\n", kind, trigger)
	} else {
		fmt.Fprintf(&details, "**Trigger:** %s\n\n", strings.ToLower(what))
	}
	details.WriteString("Live progress: the run's current details, and `drsyncer status --watch " + ref.String() + "`.")
	return runMeta{Summary: summary, Details: details.String(), Route: route}
}

// workflowMeta is the metadata of a run not about one Replication (an agent
// rollout, a connectivity check): its type and ID say what it is.
func workflowMeta(name, id string) runMeta {
	return runMeta{Summary: name + " " + id, Details: fmt.Sprintf("**Workflow:** %s\n\n**ID:** %s", name, id)}
}
