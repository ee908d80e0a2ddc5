package contract

import (
	"fmt"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Registered type names of the recovery workflows.
const (
	FailoverName = "Failover"
	FailbackName = "Failback"
	DrillName    = "Drill"
)

// FailoverWorkflowID is one failover of a Replication; id tells requests
// apart (the annotation's value, or one the CLI makes up), so a double
// reconcile of one request cannot start two failovers.
func FailoverWorkflowID(namespace, replication, id string) string {
	return fmt.Sprintf("failover/%s/%s/%s", namespace, replication, id)
}

// FailbackWorkflowID is one failback of a Replication.
func FailbackWorkflowID(namespace, replication, id string) string {
	return fmt.Sprintf("failback/%s/%s/%s", namespace, replication, id)
}

// DrillWorkflowID is one DR drill of a Replication.
func DrillWorkflowID(namespace, replication, id string) string {
	return fmt.Sprintf("drill/%s/%s/%s", namespace, replication, id)
}

// RecoveryTrigger is the trigger of a recovery's Replication runs (kind
// "failover", "failback" or "drill"): the kind and a short key of the
// recovery's workflow ID, so the runs' IDs stay readable and the idle check
// can tell them from ordinary syncs.
func RecoveryTrigger(kind, workflowID string) string {
	return kind + "-" + kube.OperationID(workflowID)[:10]
}

// ScheduleID is the one Temporal Schedule of a Scheduled Replication.
func ScheduleID(ref ObjectRef) string {
	return fmt.Sprintf("replication/%s/%s/schedule", ref.Namespace, ref.Name)
}

// StepsQuery answers a failover's, failback's or drill's steps so far
// (OperationProgress): the CLI follows a run with it.
const StepsQuery = "steps"

// OperationProgress is the steps of a failover, failback or drill, in the
// order they started.
type OperationProgress struct {
	Steps []Step `json:"steps"`
}

// Step is one step of a failover, failback or drill.
type Step struct {
	Name  string    `json:"name"`
	State StepState `json:"state"`
	// Detail says what the step did, or why it was skipped or failed.
	Detail  string    `json:"detail,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

// StepState is how far a step got.
type StepState string

// Step states.
const (
	StepRunning StepState = "Running"
	StepDone    StepState = "Done"
	StepSkipped StepState = "Skipped"
	StepFailed  StepState = "Failed"
)

// Step names, as the CLI prints them and the Web UI shows their activities.
const (
	StepLocate            = "Locate"
	StepProbeSource       = "ProbeSource"
	StepPauseSyncs        = "PauseSyncs"
	StepFinalSync         = "FinalSync"
	StepScaleDownSource   = "ScaleDownSource"
	StepRestorePoints     = "RestoreFromRestorePoints"
	StepScaleUpDR         = "ScaleUpDR"
	StepWaitReady         = "WaitReady"
	StepReplicateBack     = "ReplicateBack"
	StepScaleDownDR       = "ScaleDownDR"
	StepScaleUpSource     = "ScaleUpSource"
	StepWaitSourceReady   = "WaitSourceReady"
	StepWaitSourceStopped = "WaitSourceStopped"
	StepWaitDRStopped     = "WaitDRStopped"
	StepResumeSyncs       = "ResumeSyncs"
	StepCreateScratch     = "CreateScratchNamespace"
	StepCopyObjects       = "CopyObjects"
	StepCopyPVCs          = "CopyPVCs"
	StepCheck             = "Check"
	StepTeardown          = "Teardown"
	StepRestoreSource     = "RestoreSource"
	StepRecordState       = "RecordState"
	DefaultReadyTimeout   = 10 * time.Minute
	DefaultScaleDownLimit = 5 * time.Minute
)

// Failover modes.
const (
	// FailoverPlanned: the source answers; it is synced one last time and stopped.
	FailoverPlanned = "Planned"
	// FailoverUnplanned: the source is lost; every source step is skipped.
	FailoverUnplanned = "Unplanned"
)

// Sides of a Replication: which one runs the workloads.
const (
	SideSource      = "Source"
	SideDestination = "Destination"
)

// Failover states, as status.failover.state shows them.
const (
	StateFailingOver = "FailingOver"
	StateFailedOver  = "FailedOver"
	StateFailingBack = "FailingBack"
	StateFailedBack  = "FailedBack"
	// StateFailoverCanceled: a failover was cancelled before DR took over;
	// the source runs as before and syncs resume.
	StateFailoverCanceled = "FailoverCanceled"
)

// FailoverInput asks to move a Replication's workloads to DR.
type FailoverInput struct {
	Replication ObjectRef `json:"replication"`
	// SourceUnreachable is a person saying the source is lost: every source
	// step is skipped without trying the source first.
	SourceUnreachable bool `json:"sourceUnreachable,omitempty"`
	// FromRestorePoints restores each DR PVC from its latest restore point
	// when the last sync did not complete.
	FromRestorePoints bool `json:"fromRestorePoints,omitempty"`
	// Replicas overrides the DR replicas of workloads, by "Kind/name".
	Replicas map[string]int32 `json:"replicas,omitempty"`
	// ReadyTimeout bounds the wait for Ready; 0 is DefaultReadyTimeout.
	ReadyTimeout time.Duration `json:"readyTimeout,omitempty"`
}

// FailbackInput asks to move a failed-over Replication's workloads back to
// the source, with the data DR wrote meanwhile.
type FailbackInput struct {
	Replication  ObjectRef     `json:"replication"`
	ReadyTimeout time.Duration `json:"readyTimeout,omitempty"`
}

// DrillInput asks for a DR drill: the DR copy brought up in a scratch
// namespace of the DR cluster, checked and torn down.
type DrillInput struct {
	Replication ObjectRef `json:"replication"`
	// Namespace is the scratch namespace; empty: DrillNamespace.
	Namespace    string        `json:"namespace,omitempty"`
	ReadyTimeout time.Duration `json:"readyTimeout,omitempty"`
	// Check runs in a pod of the drill once it is Ready; its failure fails the drill.
	Check *DrillCheck `json:"check,omitempty"`
	// Keep leaves the scratch namespace for a person to look at.
	Keep bool `json:"keep,omitempty"`
}

// DrillCheck is a command run in one Ready pod of the drill.
type DrillCheck struct {
	// Selector picks the pod, as a label selector ("app=db").
	Selector  string        `json:"selector"`
	Container string        `json:"container,omitempty"`
	Command   []string      `json:"command"`
	Timeout   time.Duration `json:"timeout,omitempty"`
}

// DrillNamespace is a drill's default scratch namespace: the DR namespace
// with a short hash of the drill's workflow ID.
func DrillNamespace(drNamespace, workflowID string) string {
	suffix := "-drill-" + kube.OperationID(workflowID)[:8]
	if len(drNamespace)+len(suffix) > 63 {
		drNamespace = drNamespace[:63-len(suffix)]
	}
	return drNamespace + suffix
}

// RecoveryTarget is where a Replication's workloads run and how they move:
// LocateRecovery's answer.
type RecoveryTarget struct {
	Replication          ObjectRef  `json:"replication"`
	Source               ClusterRef `json:"source"`
	Destination          ClusterRef `json:"destination"`
	SourceNamespace      string     `json:"sourceNamespace"`
	DestinationNamespace string     `json:"destinationNamespace"`
	// Mode is the Replication's mode: Scheduled, Continuous or Manual.
	Mode string `json:"mode"`
	// ActiveSide is the side the status says runs the workloads.
	ActiveSide string `json:"activeSide"`
	// SourceProblem says why the source RemoteCluster is not Ready; "" when it is.
	SourceProblem string `json:"sourceProblem,omitempty"`
	// DataAsOf is the start of the last successful sync: DR holds the
	// source's data from then, or later. Zero when no sync succeeded.
	DataAsOf time.Time `json:"dataAsOf"`
	// LastSyncComplete says the last sync run succeeded.
	LastSyncComplete bool `json:"lastSyncComplete"`
}

// FailoverState is what status.failover records of a failover or failback.
type FailoverState struct {
	Replication ObjectRef `json:"replication"`
	ActiveSide  string    `json:"activeSide"`
	State       string    `json:"state"`
	WorkflowID  string    `json:"workflowID"`
	Mode        string    `json:"mode,omitempty"`
	Message     string    `json:"message,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
	// RTO is the trigger to all workloads Ready; DataAge how old DR's data
	// was when DR took over (the RPO).
	RTO     time.Duration `json:"rto,omitempty"`
	DataAge time.Duration `json:"dataAge,omitempty"`
}

// DrillReport is what status.lastDrill records of a drill.
type DrillReport struct {
	Replication ObjectRef     `json:"replication"`
	WorkflowID  string        `json:"workflowID"`
	Namespace   string        `json:"namespace"`
	Result      string        `json:"result"` // Succeeded or Failed
	Message     string        `json:"message,omitempty"`
	CompletedAt time.Time     `json:"completedAt"`
	RTO         time.Duration `json:"rto,omitempty"`
	DataAge     time.Duration `json:"dataAge,omitempty"`
}

// WorkloadsInput names the workloads of one namespace of one cluster.
type WorkloadsInput struct {
	Cluster   ClusterRef `json:"cluster"`
	Namespace string     `json:"namespace"`
	// Operation is the workflow ID, recorded on what a step changes.
	Operation string `json:"operation"`
	// Replicas overrides the target replicas, by "Kind/name" (ScaleUpDR).
	Replicas map[string]int32 `json:"replicas,omitempty"`
}

// WorkloadChange is one workload a step scaled, suspended or resumed.
type WorkloadChange struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	From int32  `json:"from"`
	To   int32  `json:"to"`
	// Suspended is a CronJob's suspend after the step.
	Suspended *bool `json:"suspended,omitempty"`
}

// Key is "Kind/name", as overrides and readiness name workloads.
func (w WorkloadChange) Key() string { return w.Kind + "/" + w.Name }

// WorkloadsResult is what a scaling step did.
type WorkloadsResult struct {
	Workloads []WorkloadChange `json:"workloads"`
}

// WaitReadyInput asks to wait until workloads are Ready (or, with zero
// replicas, have no pods left).
type WaitReadyInput struct {
	Cluster   ClusterRef       `json:"cluster"`
	Namespace string           `json:"namespace"`
	Workloads []WorkloadChange `json:"workloads"`
}

// FailoverResult is what a failover did.
type FailoverResult struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
	// FinalSync is the workflow ID of the final sync; "" when skipped.
	FinalSync    string           `json:"finalSync,omitempty"`
	SourceScales []WorkloadChange `json:"sourceScales,omitempty"`
	DRScales     []WorkloadChange `json:"drScales,omitempty"`
	// Restored names the DR PVCs restored from restore points.
	Restored []string      `json:"restored,omitempty"`
	DataAsOf time.Time     `json:"dataAsOf"`
	DataAge  time.Duration `json:"dataAge"`
	RTO      time.Duration `json:"rto"`
}

// FailbackResult is what a failback did.
type FailbackResult struct {
	Steps []Step `json:"steps"`
	// Sync is the workflow ID of the DR → source sync.
	Sync         string           `json:"sync"`
	DRScales     []WorkloadChange `json:"drScales,omitempty"`
	SourceScales []WorkloadChange `json:"sourceScales,omitempty"`
	// Duration is the trigger to the source workloads Ready.
	Duration time.Duration `json:"duration"`
}

// DrillResult is what a drill did.
type DrillResult struct {
	Namespace string `json:"namespace"`
	Steps     []Step `json:"steps"`
	// PVCs says per DR PVC where its drill copy came from: a restore
	// point's name, or "copied from the live DR copy".
	PVCs        map[string]string `json:"pvcs,omitempty"`
	Workloads   []WorkloadChange  `json:"workloads,omitempty"`
	CheckOutput string            `json:"checkOutput,omitempty"`
	DataAsOf    time.Time         `json:"dataAsOf"`
	DataAge     time.Duration     `json:"dataAge"`
	RTO         time.Duration     `json:"rto"`
	TornDown    bool              `json:"tornDown"`
}

// Error types of the recovery workflows.
const (
	// ErrTypeNotFailedOver: a failback of a Replication whose source is active.
	ErrTypeNotFailedOver = "NotFailedOver"
	// ErrTypeAlreadyFailedOver: a failover of a Replication already failed over.
	ErrTypeAlreadyFailedOver = "AlreadyFailedOver"
	// ErrTypeNotReady: workloads were not Ready within the timeout.
	ErrTypeNotReady = "NotReady"
	// ErrTypeFinalSyncFailed: the planned failover's final sync failed;
	// nothing was scaled and syncs resume.
	ErrTypeFinalSyncFailed = "FinalSyncFailed"
	// ErrTypeCheckFailed: a drill's check command failed.
	ErrTypeCheckFailed = "CheckFailed"
	// ErrTypeUnreachable: a cluster did not answer (ProbeCluster); for the
	// source, a failover goes Unplanned.
	ErrTypeUnreachable = "Unreachable"
)

// ReadyProgress is WaitWorkloads' heartbeat: how many workloads are where
// they should be, and what the others lack. When the wait times out, the
// workflow finds the last one in the timeout error's heartbeat details.
type ReadyProgress struct {
	Ready int `json:"ready"`
	Total int `json:"total"`
	// NotReady says per workload ("Kind/name") why it is not there yet.
	NotReady []string `json:"notReady,omitempty"`
}
