package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/objects"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resources"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The object steps take a whole plan from whoever started the workflow. A
// forged plan must not copy another namespace's Secrets, nor prune in a DR
// namespace its Replication does not name (the copies it left in its
// previous DR namespace are someone's last good DR copy): each step
// resolves the Replication and refuses what differs, before it reads or
// writes either cluster. Genuine plans pass (TestResourceReplication).
func TestForgedResourceStepsAreRefused(t *testing.T) {
	s := newResourceSuite(t)
	env, ctx := s.env, context.Background()
	acts := &objects.ResourceActivities{Clusters: kube.NewClusters(env.DR.Client, kube.KubeconfigPolicy{}), Control: env.DR.Client}
	run := func(fn, in any) error { return runActivity(t, acts, fn, in, nil) }
	noSecret := func(t *testing.T, namespace string) {
		t.Helper()
		var secrets corev1.SecretList
		require.NoError(t, env.DR.Client.List(ctx, &secrets, client.InNamespace(namespace)))
		assert.Empty(t, secrets.Items, "nothing was copied into %s", namespace)
	}

	// shop copies its ConfigMaps and Secrets; another tenant's Secret sits
	// in namespace payments of the same source cluster.
	resCreate(t, env.Source, "shop", `{apiVersion: v1, kind: Secret, metadata: {name: api-key}, stringData: {key: shop}}`)
	resCreate(t, env.Source, "payments", `{apiVersion: v1, kind: Secret, metadata: {name: db-password}, stringData: {password: theirs}}`)
	testenv.EnsureNamespace(t, env.DR.Client, "shop-dr")
	plan := s.plan(t, "shop", "shop-dr", func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps", "secrets"} })
	secretKind, _ := resources.Lookup("secret")
	cmKind, _ := resources.Lookup("configmap")

	t.Run("another namespace's Secrets copied into the DR namespace", func(t *testing.T) {
		forged := plan
		forged.SourceNamespace = "payments"
		assertRefused(t, run(acts.ReplicateKind, contract.ReplicateKindInput{Plan: forged, Kind: secretKind}),
			"ReplicateKind refused", "Replication "+plan.Replication.String(), "source namespace is payments, the Replication's is shop")
		noSecret(t, "shop-dr")
	})

	t.Run("the Replication's Secrets copied into another tenant's DR namespace", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.DR.Client, "payments-dr")
		forged := plan
		forged.DestinationNamespace = "payments-dr"
		assertRefused(t, run(acts.ReplicateKind, contract.ReplicateKindInput{Plan: forged, Kind: secretKind}),
			"destination namespace is payments-dr, the Replication's is shop-dr")
		noSecret(t, "payments-dr")
	})

	t.Run("a prune in a DR namespace the Replication no longer names", func(t *testing.T) {
		// What shop's Replication copied before its destinationNamespace
		// changed: its copies still, and the last good DR copy of them.
		resCreate(t, env.DR, "shop-dr-old", `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings,
  labels: {dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/replication: `+plan.Replication.String()+`}}, data: {a: b}}`)
		forged := plan
		forged.DestinationNamespace = "shop-dr-old"
		assertRefused(t, run(acts.PruneObjects, contract.PruneInput{Plan: forged, Kind: cmKind, Names: []string{"settings"}}),
			"PruneObjects refused", "destination namespace is shop-dr-old, the Replication's is shop-dr")
		assert.False(t, resGone(t, env.DR, "v1", "ConfigMap", "shop-dr-old", "settings"), "nothing was deleted")
	})

	t.Run("a prune of every owned copy, without the workflow's deletion guard", func(t *testing.T) {
		// 12 copies whose sources are gone: the default guard (50 %, at
		// least 10) lets one call delete 10 of them, counted afresh.
		var names []string
		for i := range 12 {
			name := fmt.Sprintf("cm-%02d", i)
			resCreate(t, env.DR, "shop-dr", `{apiVersion: v1, kind: ConfigMap, metadata: {name: `+name+`,
  labels: {dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/replication: `+plan.Replication.String()+`}}, data: {a: b}}`)
			names = append(names, name)
		}
		assertRefused(t, run(acts.PruneObjects, contract.PruneInput{Plan: plan, Kind: cmKind, Names: names}),
			"PruneObjects refused", "delete 12 of the 12 objects this Replication owns in DR, more than its limit of 10")
		for _, name := range names {
			assert.False(t, resGone(t, env.DR, "v1", "ConfigMap", "shop-dr", name), "%s was deleted", name)
		}
	})

	t.Run("a forged start of the whole workflow", func(t *testing.T) {
		forged := plan
		forged.SourceNamespace = "payments"
		res, err := s.sync(t, forged)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			require.NoError(t, appErr.Details(&res), "a failed run still carries its result")
		}
		ns := resStatus(t, res, "Namespace", "")
		assert.Contains(t, ns.Error, "EnsureNamespace refused")
		assert.Contains(t, ns.Error, "source namespace is payments")
		noSecret(t, "shop-dr")
	})
}
