package testenv

import (
	"context"
	"testing"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Edit reads obj's current version from c, applies edit and updates it,
// again on a conflict: a test edits objects the controller writes too (its
// finalizer, its status), and an update of a copy read earlier can lose
// that race. obj holds the updated object afterwards.
func Edit[T client.Object](t testing.TB, c client.Client, obj T, edit func(T)) {
	t.Helper()
	ctx := context.Background()
	key := client.ObjectKeyFromObject(obj)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, key, obj); err != nil {
			return err
		}
		edit(obj)
		return c.Update(ctx, obj)
	})
	if err != nil {
		t.Fatalf("edit %T %s: %v", obj, key, err)
	}
}
