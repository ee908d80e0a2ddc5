package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The target PVC step writes only into its own copy of the very source
// claim, against real source and DR API servers.
func TestTargetPVCGuards(t *testing.T) {
	steps := newPVCSteps(t)
	env, acts, source, dr := steps.env, steps.acts, steps.source, steps.dr
	ctx := context.Background()
	testenv.EnsureNamespace(t, env.Source.Client, "shop")
	testenv.EnsureNamespace(t, env.DR.Client, "shop")
	input := func(name, replication string) contract.TargetPVCInput {
		return contract.TargetPVCInput{Source: contract.PVCRef{Cluster: source, Namespace: "shop", Name: name},
			Destination: dr, DestinationNamespace: "shop", Replication: replication}
	}
	guardError := func(t *testing.T, err error, errType string, says ...string) {
		t.Helper()
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, errType, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		for _, s := range says {
			assert.Contains(t, appErr.Error(), s)
		}
	}
	unchanged := func(t *testing.T, before *corev1.PersistentVolumeClaim) {
		t.Helper()
		var after corev1.PersistentVolumeClaim
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKeyFromObject(before), &after))
		assert.Equal(t, before.ResourceVersion, after.ResourceVersion, "the DR PVC is not written")
	}

	t.Run("a DR PVC dr-syncer did not create is a Conflict and is never written", func(t *testing.T) {
		create(t, env.Source.Client, pvc("shop", "users", "", "1Gi", corev1.ReadWriteOnce, nil))
		mine := pvc("shop", "users", "", "1Gi", corev1.ReadWriteOnce, map[string]string{"app": "theirs"})
		create(t, env.DR.Client, mine)
		err := runActivity(t, acts, acts.EnsureTargetPVC, input("users", "ops/shop"), nil)
		guardError(t, err, contract.ErrTypeConflict, "PVC shop/users", "not created by dr-syncer", "neither writes to nor mounts it")
		unchanged(t, mine)
	})

	t.Run("a second Replication writing the same DR PVC is a Conflict", func(t *testing.T) {
		create(t, env.Source.Client, pvc("shop", "orders", "", "1Gi", corev1.ReadWriteOnce, nil))
		require.NoError(t, runActivity(t, acts, acts.EnsureTargetPVC, input("orders", "ops/first"), nil))
		var first corev1.PersistentVolumeClaim
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "orders"}, &first))
		err := runActivity(t, acts, acts.EnsureTargetPVC, input("orders", "ops/second"), nil)
		guardError(t, err, contract.ErrTypeConflict, "belongs to Replication ops/first")
		unchanged(t, &first)
	})

	t.Run("a re-created source is SourceReplaced until accepted", func(t *testing.T) {
		claim := pvc("shop", "db", "", "1Gi", corev1.ReadWriteOnce, nil)
		create(t, env.Source.Client, claim)
		require.NoError(t, runActivity(t, acts, acts.EnsureTargetPVC, input("db", "ops/shop"), nil))
		var copied corev1.PersistentVolumeClaim
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "db"}, &copied))
		oldUID := copied.Annotations[kube.AnnotationSourceUID]
		require.Equal(t, string(claim.UID), oldUID)

		removeClaim(t, env.Source.Client, claim)
		again := pvc("shop", "db", "", "1Gi", corev1.ReadWriteOnce, nil)
		create(t, env.Source.Client, again)
		err := runActivity(t, acts, acts.EnsureTargetPVC, input("db", "ops/shop"), nil)
		guardError(t, err, contract.ErrTypeSourceReplaced, "PVC shop/db", "re-created", "DR copy shop/db kept",
			"annotate Replication ops/shop with dr-syncer.io/accept-changes")
		unchanged(t, &copied)

		accepted := input("db", "ops/shop")
		accepted.Acknowledged = true
		require.NoError(t, runActivity(t, acts, acts.EnsureTargetPVC, accepted, nil))
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "db"}, &copied))
		assert.Equal(t, string(again.UID), copied.Annotations[kube.AnnotationSourceUID], "the accepted claim is the one the copy follows now")
		require.NoError(t, runActivity(t, acts, acts.EnsureTargetPVC, input("db", "ops/shop"), nil), "and later runs need no acceptance")
	})

	t.Run("no data sync for a DR copy on the source's own storage, nor for a claim being deleted", func(t *testing.T) {
		testenv.EnsureNamespace(t, env.Source.Client, "nfs")
		testenv.EnsureNamespace(t, env.DR.Client, "nfs")
		nfs := func(name string) *corev1.PersistentVolume {
			return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
				PersistentVolumeSource: corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nas", Path: "/exports/shared"}}}}
		}
		for _, c := range []client.Client{env.Source.Client, env.DR.Client} {
			create(t, c, nfs("shared-pv"))
			claim := pvc("nfs", "shared", "", "1Gi", corev1.ReadWriteMany, nil)
			claim.Spec.VolumeName = "shared-pv"
			create(t, c, claim)
			claim.Status.Phase = corev1.ClaimBound
			require.NoError(t, c.Status().Update(ctx, claim))
		}
		going := pvc("nfs", "going", "", "1Gi", corev1.ReadWriteOnce, nil)
		going.Finalizers = []string{"example.com/hold"}
		create(t, env.Source.Client, going)
		going.Status.Phase = corev1.ClaimBound
		require.NoError(t, env.Source.Client.Status().Update(ctx, going))
		require.NoError(t, env.Source.Client.Delete(ctx, going))

		var list contract.PVCList
		require.NoError(t, runActivity(t, acts, acts.ListPVCs, contract.ListPVCsInput{Cluster: source, Namespace: "nfs",
			Destination: dr, DestinationNamespace: "nfs"}, &list))
		assert.Empty(t, list.Names)
		assert.Contains(t, list.Skipped["shared"], "same storage as the source (NFS export nas:/exports/shared)")
		assert.Contains(t, list.Skipped["going"], "being deleted in the source")
		removeClaim(t, env.Source.Client, going)
	})
}

// removeClaim deletes a claim for good: no controller runs here to lift the
// API server's pvc-protection finalizer, so the test does.
func removeClaim(t *testing.T, c client.Client, claim *corev1.PersistentVolumeClaim) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, client.IgnoreNotFound(c.Delete(ctx, claim)))
	require.Eventually(t, func() bool {
		var cur corev1.PersistentVolumeClaim
		if err := c.Get(ctx, client.ObjectKeyFromObject(claim), &cur); err != nil {
			return client.IgnoreNotFound(err) == nil
		}
		cur.Finalizers = nil
		_ = c.Update(ctx, &cur)
		return false
	}, 10*time.Second, 50*time.Millisecond)
}
