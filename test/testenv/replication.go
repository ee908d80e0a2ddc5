package testenv

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// ReplicationPlan creates Replication name in ControlNamespace of control
// with spec and annotations (or sets them on the one that exists), and
// returns the plan a forward run of it resolves to, as ResolveReplication
// returns it. The object activities refuse a plan the Replication it names
// does not resolve to, so a test that starts ReplicateResources by hand
// starts it with this.
func ReplicationPlan(t testing.TB, control client.Client, name string, spec drv1.ReplicationSpec, annotations map[string]string) contract.ReplicationPlan {
	t.Helper()
	ctx := context.Background()
	r := &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: ControlNamespace, Name: name}}
	if _, err := controllerutil.CreateOrUpdate(ctx, control, r, func() error {
		r.Spec, r.Annotations = spec, annotations
		return nil
	}); err != nil {
		t.Fatalf("create Replication %s: %v", name, err)
	}
	ref := contract.ObjectRef{Namespace: ControlNamespace, Name: name}
	res, err := resolve.Replication(ctx, control, "", ref)
	if err != nil {
		t.Fatalf("resolve Replication %s: %v", ref, err)
	}
	plan, err := res.Plan()
	if err != nil {
		t.Fatalf("plan of Replication %s: %v", ref, err)
	}
	return plan
}
