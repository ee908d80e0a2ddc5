package worker

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/dr-syncer/dr-syncer/contract"
)

// forbiddenIsFinal makes an API server's Forbidden, returned by any
// activity, a non-retryable error that says what to do. Retrying cannot
// grant a permission: without this, a RemoteCluster identity missing one
// (say, list daemonsets) kept a run "syncing" under endless retries with
// nothing in its status. One interceptor, so no activity can forget it.
type forbiddenIsFinal struct {
	interceptor.WorkerInterceptorBase
}

func (*forbiddenIsFinal) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &forbiddenActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type forbiddenActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *forbiddenActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	return res, finalIfForbidden(err)
}

// finalIfForbidden returns err, or for a Forbidden that is not a namespace
// still terminating (that one passes once the namespace is gone) a
// non-retryable ErrTypeForbidden error carrying err's message and the fix.
func finalIfForbidden(err error) error {
	var appErr *temporal.ApplicationError
	if err == nil || errors.As(err, &appErr) || !apierrors.IsForbidden(err) ||
		apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%v; the cluster refused the identity of the RemoteCluster's kubeconfig: "+
		"grant it this permission (deploy/rbac/remotecluster lists every one dr-syncer needs; add a ClusterRole for other kinds), then sync again", err),
		contract.ErrTypeForbidden, err)
}
