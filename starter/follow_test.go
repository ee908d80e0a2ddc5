package starter

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dr-syncer/dr-syncer/contract"
)

// Each step is printed once when first seen running and once when ended,
// however many snapshots show it, and steps seen only ended get one line.
func TestStepPrinterOverSnapshots(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	pause := contract.Step{Name: contract.StepPauseSyncs, State: contract.StepRunning, Started: at(0)}
	pauseDone := pause
	pauseDone.State, pauseDone.Ended, pauseDone.Detail = contract.StepDone, at(1234*time.Millisecond), "Schedule paused"
	final := contract.Step{Name: contract.StepFinalSync, State: contract.StepSkipped, Detail: "the source is unreachable"}
	scale := contract.Step{Name: contract.StepScaleUpDR, State: contract.StepDone, Started: at(2 * time.Second), Ended: at(2500 * time.Millisecond)}
	wait := contract.Step{Name: contract.StepWaitReady, State: contract.StepRunning, Started: at(3 * time.Second)}
	waitFailed := wait
	waitFailed.State, waitFailed.Ended, waitFailed.Detail = contract.StepFailed, at(3*time.Second+10*time.Minute), "Deployment/web: 0 of 2 Ready"

	var out bytes.Buffer
	p := newStepPrinter(&out)
	for _, snapshot := range [][]contract.Step{
		nil,
		{pause},
		{pause},
		{pauseDone, final},
		{pauseDone, final, scale, wait},
		{pauseDone, final, scale, wait},
		{pauseDone, final, scale, waitFailed},
		{pauseDone, final, scale, waitFailed},
	} {
		p.print(snapshot)
	}
	assert.Equal(t, `→ PauseSyncs
✓ PauseSyncs 1.2s  Schedule paused
– FinalSync skipped: the source is unreachable
✓ ScaleUpDR 500ms
→ WaitReady
✗ WaitReady 10m0s: Deployment/web: 0 of 2 Ready
`, out.String())
}

func TestStepEndLine(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		step contract.Step
		want string
	}{
		{contract.Step{Name: "Teardown", State: contract.StepDone, Started: t0, Ended: t0.Add(90500 * time.Millisecond)}, "✓ Teardown 1m31s"},
		{contract.Step{Name: "Check", State: contract.StepDone, Detail: "ok"}, "✓ Check  ok"},
		{contract.Step{Name: "FinalSync", State: contract.StepSkipped}, "– FinalSync skipped"},
		{contract.Step{Name: "Check", State: contract.StepFailed, Started: t0, Ended: t0.Add(time.Second)}, "✗ Check 1s"},
		{contract.Step{Name: "Odd", State: "Paused", Detail: "why"}, "? Odd Paused: why"},
	} {
		assert.Equal(t, tc.want, stepEndLine(tc.step))
	}
}
