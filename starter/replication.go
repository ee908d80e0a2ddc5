package starter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// StartedRun is the run StartRun started, or found already started.
type StartedRun struct {
	WorkflowID string
	RunID      string
	// Started is false when the ID had been used before: the returned run is
	// that earlier one, running or closed, and nothing new was started.
	Started bool
}

// StartRun starts one Replication run for trigger, at most once ever: the
// workflow ID is derived from the trigger, the reuse policy rejects a second
// run of a closed ID and the conflict policy refuses a second open one. Both
// refusals are success, returning the run that already holds the ID — which
// is what makes a sync-now exactly-once across controller restarts and double
// reconciles, even when the status write that recorded it was lost.
func (s *Starter) StartRun(ctx context.Context, ref contract.ObjectRef, trigger string) (StartedRun, error) {
	id := contract.ReplicationWorkflowID(ref.Namespace, ref.Name, trigger)
	meta := s.replicationMeta(ctx, "Sync", ref, trigger)
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                s.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// FAIL plus this flag, rather than USE_EXISTING, because only the
		// error tells a fresh start from an existing run.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// Set at start, not only by the workflow, so visibility finds a run
		// even before a worker picked it up.
		TypedSearchAttributes: replicationAttributes(ref),
		StaticSummary:         meta.Summary,
		StaticDetails:         meta.Details,
	}, contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: trigger})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return StartedRun{WorkflowID: id, RunID: started.RunId}, nil
	}
	if err != nil {
		return StartedRun{}, fmt.Errorf("start replication run %s: %w", id, err)
	}
	return StartedRun{WorkflowID: id, RunID: run.GetRunID(), Started: true}, nil
}

func replicationAttributes(ref contract.ObjectRef) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(contract.AttrReplication.ValueSet(ref.String()))
}

// maxTriggerLen keeps workflow IDs short enough to type and to fit labels.
const maxTriggerLen = 63

// SanitizeTrigger turns a user's value (a sync-now annotation) into the last
// segment of a workflow ID: letters, digits, '.', '_' and '-' only. A value
// that had to change gets a short hash of the original appended, so two
// different values never map to one ID (and so never dedupe each other).
func SanitizeTrigger(value string) string {
	var b strings.Builder
	for _, r := range value {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	clean := b.String()
	if clean == value && len(clean) <= maxTriggerLen && clean != "" {
		return clean
	}
	sum := sha256.Sum256([]byte(value))
	suffix := hex.EncodeToString(sum[:4])
	clean = strings.Trim(clean, "-")
	if max := maxTriggerLen - len(suffix) - 1; len(clean) > max {
		clean = clean[:max]
	}
	if clean == "" {
		return suffix
	}
	return clean + "-" + suffix
}

// TriggerOf returns the trigger segment of a Replication run's workflow ID.
func TriggerOf(workflowID string) string { return lastSegment(workflowID) }

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }
