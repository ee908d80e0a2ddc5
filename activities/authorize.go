package activities

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// An activity input is whatever started the workflow said; anyone who can
// start workflows on the task queue can write one. Steps that create pods
// or copy Secrets therefore resolve the Replication the input names (its
// Authority) through the same resolver as ResolveReplication, and refuse
// an input the Replication does not resolve to: no image, namespace,
// cluster or key Secret comes from the input alone.

// AuthorizedPlan is the plan of the run authority names, for step (the
// activity's name, for the error). An input without authority, or naming a
// Replication that does not resolve, is refused with a non-retryable
// ErrTypeInputMismatch; failing to read the Replication is retried.
func AuthorizedPlan(ctx context.Context, control client.Reader, system, step string, authority *contract.PlanRequest) (contract.ReplicationPlan, error) {
	if authority == nil || authority.Replication.Name == "" {
		return contract.ReplicationPlan{}, NonRetryable(contract.ErrTypeInputMismatch,
			"%s refused: its input names no Replication to check it against (a workflow started outside dr-syncer, "+
				"or a step scheduled by an older worker); run the sync again", step)
	}
	ref := authority.Replication
	res, err := resolve.Replication(ctx, control, system, ref)
	var plan contract.ReplicationPlan
	if err == nil {
		plan, err = res.PlanFor(*authority)
	}
	if p, ok := resolve.IsProblem(err); ok {
		return contract.ReplicationPlan{}, NonRetryable(contract.ErrTypeInputMismatch,
			"%s refused: its input names Replication %s, which does not resolve: %s", step, ref, p.Message)
	}
	if err != nil {
		return contract.ReplicationPlan{}, fmt.Errorf("%s: resolve Replication %s to check the input: %w", step, ref, err)
	}
	return plan, nil
}

// InputCheck collects where an input differs from what the object it
// names (a Replication, a ClusterMapping) resolves to.
type InputCheck struct {
	step, kind string
	ref        contract.ObjectRef
	mismatches []string
}

// NewInputCheck starts the check of step's input against the object of
// kind at ref.
func NewInputCheck(step, kind string, ref contract.ObjectRef) *InputCheck {
	return &InputCheck{step: step, kind: kind, ref: ref}
}

// Equal records a mismatch when the input's value got is not want, the
// object's.
func (c *InputCheck) Equal(what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		c.mismatches = append(c.mismatches, fmt.Sprintf("%s is %+v, the %s's is %+v", what, got, c.kind, want))
	}
}

// Require records a mismatch described by problem unless ok.
func (c *InputCheck) Require(ok bool, problem string) {
	if !ok {
		c.mismatches = append(c.mismatches, problem)
	}
}

// Err is nil when nothing differed, else a non-retryable
// ErrTypeInputMismatch that names the object and every difference.
func (c *InputCheck) Err() error {
	if len(c.mismatches) == 0 {
		return nil
	}
	return NonRetryable(contract.ErrTypeInputMismatch,
		"%s refused: its input does not match %s %s: %s. A workflow was started with forged input, or the "+
			"%s or its RemoteClusters changed during the run; the next run uses the current settings",
		c.step, c.kind, c.ref, strings.Join(c.mismatches, "; "), c.kind)
}
