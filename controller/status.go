package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dr-syncer/dr-syncer/starter"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writeStatus stores status into *current and writes obj's status
// subresource, but only when it changed: an unchanged status costs no API
// call, and no write means no watch event that could retrigger a reconcile.
func writeStatus[S any](ctx context.Context, c client.Client, obj client.Object, current *S, status S) error {
	if equality.Semantic.DeepEqual(*current, status) {
		return nil
	}
	*current = status
	if err := c.Status().Update(ctx, obj); err != nil {
		return fmt.Errorf("update status of %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// orDefault is d, or def when d is not set.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// trackedRun sorts the outcome of reading a run a status tracks: the run,
// or lost when Temporal no longer knows it (its retention ended, or the
// history was reset), or an error worth retrying.
func trackedRun[T any](run T, err error) (_ *T, lost bool, _ error) {
	switch {
	case errors.Is(err, starter.ErrRunNotFound):
		return nil, true, nil
	case err != nil:
		return nil, false, err
	}
	return &run, false, nil
}
