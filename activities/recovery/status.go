package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// RecordFailoverState writes st to the Replication's status.failover. The
// controller owns the rest of the status, so this is a JSON merge patch of
// that one field on the status subresource: nothing else is read or
// written, and there is no resourceVersion to race the controller for.
// Writing the same state twice leaves the same status.
func (a *RecoveryActivities) RecordFailoverState(ctx context.Context, st contract.FailoverState) error {
	return a.patchStatus(ctx, st.Replication, "failover", failoverStatus(st))
}

// RecordDrill writes r to the Replication's status.lastDrill, the same way.
func (a *RecoveryActivities) RecordDrill(ctx context.Context, r contract.DrillReport) error {
	return a.patchStatus(ctx, r.Replication, "lastDrill", drillStatus(r))
}

func failoverStatus(st contract.FailoverState) drv1.FailoverStatus {
	return drv1.FailoverStatus{
		ActiveSide:  st.ActiveSide,
		State:       st.State,
		WorkflowID:  st.WorkflowID,
		Mode:        st.Mode,
		Message:     st.Message,
		StartedAt:   metaTime(st.StartedAt),
		CompletedAt: metaTime(st.CompletedAt),
		RTO:         duration(st.RTO),
		DataAge:     duration(st.DataAge),
	}
}

func drillStatus(r contract.DrillReport) drv1.DrillStatus {
	return drv1.DrillStatus{
		WorkflowID:  r.WorkflowID,
		Namespace:   r.Namespace,
		Result:      r.Result,
		Message:     r.Message,
		CompletedAt: metaTime(r.CompletedAt),
		RTO:         duration(r.RTO),
		DataAge:     duration(r.DataAge),
	}
}

// metaTime is nil for the zero time: "not yet" rather than year 1.
func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// duration is how status shows a duration: to a tenth of a second, and
// empty while unknown.
func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.Round(100 * time.Millisecond).String()
}

// patchStatus sets status.<field> of the Replication to value, replacing
// the whole of the old value.
func (a *RecoveryActivities) patchStatus(ctx context.Context, ref contract.ObjectRef, field string, value any) error {
	obj, err := replaceObject(value)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{field: obj}})
	if err != nil {
		return fmt.Errorf("status.%s patch: %w", field, err)
	}
	repl := &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}
	err = a.Control.Status().Patch(ctx, repl, client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsNotFound(err) {
		return activities.InvalidSpec("Replication %s not found: it was deleted while a recovery ran; status.%s not recorded", ref, field)
	}
	if err != nil {
		return fmt.Errorf("record status.%s of Replication %s: %w", field, ref, err)
	}
	return nil
}

// replaceObject turns a struct into a merge-patch value that replaces an
// object entirely: a merge patch merges nested objects, so a field left out
// (omitempty) would keep the old value, and a new state must not inherit
// the last one's message or RTO. Every field the struct leaves out is an
// explicit null.
func replaceObject(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode %T: %w", v, err)
	}
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if _, set := out[name]; !set && name != "" && name != "-" {
			out[name] = nil
		}
	}
	return out, nil
}
