package controller

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// While status.failover says FailingOver, FailedOver or FailingBack, DR runs
// (or is taking over, or handing back) the workloads: a sync from the source
// would overwrite what DR writes. The controller then keeps the Schedule (or
// the continuous workflow) paused, starts no sync-now run, and says so in
// the Synced condition, whose reason is the failover state. The failover and
// failback workflows write status.failover themselves; the controller only
// carries it over unchanged. FailedBack and FailoverCanceled resume
// everything as before.

// Synced reasons while failed over: the failover state itself.
const (
	ReasonFailingOver = contract.StateFailingOver
	ReasonFailedOver  = contract.StateFailedOver
	ReasonFailingBack = contract.StateFailingBack
)

// Event reasons of the failover, failback and drill annotations: <Kind>Started
// for a workflow started, <Kind>Refused (Warning) for a request that cannot
// be carried out as things stand and is dropped, <Kind>StartFailed (Warning)
// for a start that failed and is retried.
const (
	EventFailoverStarted     = "FailoverStarted"
	EventFailbackStarted     = "FailbackStarted"
	EventDrillStarted        = "DrillStarted"
	EventFailoverRefused     = "FailoverRefused"
	EventFailbackRefused     = "FailbackRefused"
	EventDrillRefused        = "DrillRefused"
	EventFailoverStartFailed = "FailoverStartFailed"
	EventFailbackStartFailed = "FailbackStartFailed"
	EventDrillStartFailed    = "DrillStartFailed"
)

// operationRequest is one new value of a recovery annotation, to start.
type operationRequest struct {
	// Kind is contract.FailoverName, FailbackName or DrillName.
	Kind       string
	Annotation string
	Value      string
	// ID is the sanitized value, the last part of the workflow ID.
	ID string
}

// recoveryAnnotations in the order their requests are taken: a failover and
// a failback asked at once make a failover, and the failback is refused.
var recoveryAnnotations = []struct{ annotation, kind string }{
	{drv1.AnnotationFailover, contract.FailoverName},
	{drv1.AnnotationFailback, contract.FailbackName},
	{drv1.AnnotationDrill, contract.DrillName},
}

// planOperations turns new values of the recovery annotations into
// workflows to start. A request the Replication's state rules out (a
// failover while failed over, a failback while not) is marked handled with a
// Warning: the workflow would refuse it too, and retrying cannot help.
func (p *replicationPlan) planOperations(r *drv1.Replication) {
	st := &p.Status
	for _, a := range recoveryAnnotations {
		value := r.Annotations[a.annotation]
		if value == "" || value == st.RequestsHandled[a.annotation] {
			continue
		}
		req := operationRequest{Kind: a.kind, Annotation: a.annotation, Value: value, ID: starter.SanitizeTrigger(value)}
		if why := refusal(req.Kind, st.Failover, refOf(r)); why != "" {
			p.refuse(req, why)
			continue
		}
		p.Operations = append(p.Operations, req)
	}
}

// refusal says why the Replication's failover state rules out kind; "" when it does not.
func refusal(kind string, f *drv1.FailoverStatus, ref contract.ObjectRef) string {
	failedOver := (&drv1.ReplicationStatus{Failover: f}).FailedOver()
	switch {
	case kind == contract.FailoverName && failedOver:
		return fmt.Sprintf("%s is already %s (%s): fail back first (annotate %s, or drsyncer failback %s)",
			ref, f.State, f.WorkflowID, drv1.AnnotationFailback, ref)
	case kind == contract.FailbackName && !failedOver:
		return fmt.Sprintf("%s is not failed over: its source runs the workloads", ref)
	}
	return ""
}

func (p *replicationPlan) refuse(req operationRequest, why string) {
	p.markHandled(req)
	p.Events = append(p.Events, replicationEvent{corev1.EventTypeWarning, req.Kind + "Refused",
		fmt.Sprintf("%s=%s not carried out: %s", req.Annotation, req.Value, why)})
}

func (p *replicationPlan) markHandled(req operationRequest) {
	if p.Status.RequestsHandled == nil {
		p.Status.RequestsHandled = map[string]string{}
	}
	p.Status.RequestsHandled[req.Annotation] = req.Value
}

// recordOperation records the outcome of starting req. Started, or found
// started before (a lost status write): handled, with an Event for a new
// start. Refused by the starter because another failover or failback is
// open: handled, with a Warning. Any other error is returned to retry the
// start, with a Warning that says why it has not started yet.
func (p *replicationPlan) recordOperation(req operationRequest, run starter.StartedRun, err error) error {
	var open *starter.OperationOpenError
	switch {
	case errors.As(err, &open):
		p.refuse(req, err.Error())
		return nil
	case err != nil:
		p.Events = append(p.Events, replicationEvent{corev1.EventTypeWarning, req.Kind + "StartFailed",
			fmt.Sprintf("%s=%s: %v; retrying", req.Annotation, req.Value, err)})
		return err
	}
	p.markHandled(req)
	if run.Started {
		p.Events = append(p.Events, replicationEvent{corev1.EventTypeNormal, req.Kind + "Started",
			fmt.Sprintf("started %s %s for %s=%s", strings.ToLower(req.Kind), run.WorkflowID, req.Annotation, req.Value)})
	}
	return nil
}

// failedOverCondition is the Synced condition while failed over, or nil.
func failedOverCondition(f *drv1.FailoverStatus, w where) *metav1.Condition {
	if !(&drv1.ReplicationStatus{Failover: f}).FailedOver() {
		return nil
	}
	c := &metav1.Condition{Status: metav1.ConditionFalse, Reason: f.State}
	switch f.State {
	case contract.StateFailingOver:
		c.Message = fmt.Sprintf("failing over to %s by %s: syncs are paused; follow it with drsyncer describe %s", w.dr, f.WorkflowID, f.WorkflowID)
	case contract.StateFailingBack:
		c.Message = fmt.Sprintf("failing back to %s by %s: syncs stay paused until it completes", w.source, f.WorkflowID)
	default:
		c.Reason = ReasonFailedOver
		c.Message = fmt.Sprintf("failed over to %s by %s: syncs are paused until failback (drsyncer failback %s, or annotate %s)",
			w.dr, f.WorkflowID, w.replication, drv1.AnnotationFailback)
	}
	return c
}

// where names the sides of a Replication for messages.
type where struct {
	replication contract.ObjectRef
	source, dr  string
}

// whereOf names the sides from the spec and the resolved clusters; a
// cluster not resolved (a broken reference) is named as the spec names it.
func whereOf(r *drv1.Replication, spec *drv1.ReplicationSpec, obs replicationObservation) where {
	source, dr := obs.SourceCluster, obs.DestinationCluster
	if source == "" {
		source = orName(spec.SourceCluster, "the source")
	}
	if dr == "" {
		dr = orName(spec.DestinationCluster, "DR")
	}
	return where{replication: refOf(r), source: source + "/" + spec.SourceNamespace, dr: dr + "/" + spec.DestinationNamespace}
}

func orName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}
