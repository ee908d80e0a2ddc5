// Package recovery: temporary signatures until the activities land.
package recovery

import (
	"context"

	"github.com/dr-syncer/dr-syncer/contract"
)

type RecoveryActivities struct{}

func (a *RecoveryActivities) LocateRecovery(ctx context.Context, ref contract.ObjectRef) (contract.RecoveryTarget, error) {
	return contract.RecoveryTarget{}, nil
}
func (a *RecoveryActivities) ProbeCluster(ctx context.Context, cluster contract.ClusterRef) error {
	return nil
}
func (a *RecoveryActivities) RecordFailoverState(ctx context.Context, st contract.FailoverState) error {
	return nil
}
func (a *RecoveryActivities) RecordDrill(ctx context.Context, r contract.DrillReport) error { return nil }
func (a *RecoveryActivities) PauseSyncs(ctx context.Context, t contract.RecoveryTarget) error {
	return nil
}
func (a *RecoveryActivities) WaitSyncsIdle(ctx context.Context, t contract.RecoveryTarget) error {
	return nil
}
func (a *RecoveryActivities) ScaleDownSource(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return contract.WorkloadsResult{}, nil
}
func (a *RecoveryActivities) RestoreSource(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return contract.WorkloadsResult{}, nil
}
func (a *RecoveryActivities) ScaleUpCopies(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return contract.WorkloadsResult{}, nil
}
func (a *RecoveryActivities) ScaleDownCopies(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return contract.WorkloadsResult{}, nil
}
func (a *RecoveryActivities) WaitWorkloads(ctx context.Context, in contract.WaitReadyInput) error {
	return nil
}
func (a *RecoveryActivities) CreateScratchNamespace(ctx context.Context, in contract.WorkloadsInput) error {
	return nil
}
func (a *RecoveryActivities) DeleteScratchNamespace(ctx context.Context, in contract.WorkloadsInput) error {
	return nil
}
