package activities

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// An activity input is whatever started the workflow said; anyone who can
// start workflows on the task queue can write one. Steps that create pods
// or copy Secrets therefore resolve the Replication the input names (its
// Authority) through the same resolver as ResolveReplication, and refuse
// an input the Replication does not resolve to: no image, namespace,
// cluster or key Secret comes from the input alone.

// AuthorizedPlan is the plan of the run authority names, for step (the
// activity's name, for the error). An input without authority, naming a
// Replication that does not resolve, or asking for a failback's copy back
// while no failback of it runs, is refused with a non-retryable
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
	if err == nil && authority.Direction == contract.DirectionReverse {
		if err := failingBack(step, ref, res.Replication.Status.Failover); err != nil {
			return contract.ReplicationPlan{}, err
		}
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

// failingBack refuses a reverse run unless the Replication's status says a
// failback runs: the Failback workflow records FailingBack before it copies
// anything back. A reverse plan resolves from any Replication at any time,
// so without this a forged start could write the DR copy's objects and
// data over the source's live ones.
func failingBack(step string, ref contract.ObjectRef, st *drv1.FailoverStatus) error {
	if st != nil && st.State == contract.StateFailingBack {
		return nil
	}
	state := "unset"
	if st != nil {
		state = fmt.Sprintf("%q", st.State)
	}
	return NonRetryable(contract.ErrTypeInputMismatch,
		"%s refused: its input copies Replication %s back from DR into the source (a failback), but no failback of it runs "+
			"(status.failover.state is %s, not %s); fail back with the %s annotation or `drsyncer failback`",
		step, ref, state, contract.StateFailingBack, drv1.AnnotationFailback)
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

// DrillTarget refuses a drill whose scratch namespace carries no drill
// label; labelsOf reads the namespace's labels from the DR cluster with
// the caller's client. The Replication cannot say which namespace a drill
// uses (the drill's input does), but recovery.CreateScratchNamespace
// labels only a namespace it creates, never one that existed: so a forged
// drill cannot pour the DR copy, Secrets included, into a tenant's
// namespace of the DR cluster. Any other direction passes.
func DrillTarget(ctx context.Context, step string, plan contract.ReplicationPlan,
	labelsOf func(ctx context.Context, namespace string) (map[string]string, error)) error {
	if plan.Direction != contract.DirectionDrill {
		return nil
	}
	labels, err := labelsOf(ctx, plan.DestinationNamespace)
	switch {
	case apierrors.IsNotFound(err):
		return NonRetryable(contract.ErrTypeInputMismatch,
			"%s refused: drill namespace %s of Replication %s does not exist in cluster %s; a drill creates its scratch namespace before copying into it",
			step, plan.DestinationNamespace, plan.Replication, plan.Destination.Name)
	case err != nil:
		return fmt.Errorf("%s: get drill namespace %s to check the input: %w", step, plan.DestinationNamespace, err)
	case labels[kube.LabelDrill] == "":
		return NonRetryable(contract.ErrTypeInputMismatch,
			"%s refused: namespace %s in cluster %s is not a drill's scratch namespace (it has no %s label), so Replication %s's drill does not copy into it; "+
				"run the drill with a new namespace name", step, plan.DestinationNamespace, plan.Destination.Name, kube.LabelDrill, plan.Replication)
	}
	return nil
}
