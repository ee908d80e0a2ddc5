package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/dr-syncer/dr-syncer/contract"
)

func TestAForbiddenIsFinalAndSaysWhatToDo(t *testing.T) {
	daemonsets := schema.GroupResource{Group: "apps", Resource: "daemonsets"}
	forbidden := fmt.Errorf("list daemonsets in source namespace shop: %w",
		apierrors.NewForbidden(daemonsets, "", errors.New(`User "system:serviceaccount:dr-syncer:dr-syncer-remote" cannot list resource "daemonsets"`)))

	var appErr *temporal.ApplicationError
	require.True(t, errors.As(finalIfForbidden(forbidden), &appErr))
	assert.Equal(t, contract.ErrTypeForbidden, appErr.Type())
	assert.True(t, appErr.NonRetryable(), "no retry grants a permission")
	assert.Contains(t, appErr.Error(), `list daemonsets in source namespace shop`)
	assert.Contains(t, appErr.Error(), "deploy/rbac/remotecluster")

	terminating := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "mount", errors.New("namespace shop-dr is being terminated"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}
	assert.Same(t, error(terminating), finalIfForbidden(terminating), "a terminating namespace passes: retried")

	other := errors.New("connection refused")
	assert.Same(t, other, finalIfForbidden(other), "other errors keep the retry policy")
	already := temporal.NewApplicationError("held", contract.ErrTypeDeletionGuard)
	assert.Same(t, error(already), finalIfForbidden(already), "an activity's own classification stands")
}

// The PVC sync's short steps run as local activities
// (2026-12-06-local-steps): a Forbidden from one is final too, or a
// missing permission would retry it to its last attempt.
func TestAForbiddenFromALocalActivityIsFinal(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(sdkworker.Options{Interceptors: []interceptor.WorkerInterceptor{&forbiddenIsFinal{}}})
	calls := 0
	read := func(context.Context) error {
		calls++
		return apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumeclaims"}, "data", errors.New("cannot get"))
	}
	env.RegisterActivityWithOptions(read, activity.RegisterOptions{Name: "Discover"})
	env.ExecuteWorkflow(func(ctx workflow.Context) error {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5}})
		return workflow.ExecuteLocalActivity(ctx, "Discover").Get(ctx, nil)
	})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr), "%v", env.GetWorkflowError())
	assert.Equal(t, contract.ErrTypeForbidden, appErr.Type())
	assert.Equal(t, 1, calls, "not retried")
}
