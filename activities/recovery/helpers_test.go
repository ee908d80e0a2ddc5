package recovery_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/recovery"
)

// runner runs one activity as a Temporal worker would, and keeps what it
// heartbeated.
type runner struct {
	t *testing.T
	a *recovery.RecoveryActivities
	// ctx is the activity's background context; a deadline on it is the
	// activity's timeout.
	ctx        context.Context
	heartbeats []converter.EncodedValues
}

func (r *runner) run(fn, in, out any) error {
	r.t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(r.a)
	if r.ctx != nil {
		env.SetWorkerOptions(worker.Options{BackgroundActivityContext: r.ctx})
	}
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		r.heartbeats = append(r.heartbeats, details)
	})
	val, err := env.ExecuteActivity(fn, in)
	if err == nil && out != nil {
		require.NoError(r.t, val.Get(out))
	}
	return err
}

func run(t *testing.T, a *recovery.RecoveryActivities, fn, in, out any) error {
	t.Helper()
	return (&runner{t: t, a: a}).run(fn, in, out)
}

// nonRetryable asserts err is a non-retryable application error and
// returns its type.
func nonRetryable(t *testing.T, err error) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v is not an application error", err)
	assert.True(t, appErr.NonRetryable(), "%v", err)
	return appErr.Type()
}

func meta(namespace, name string, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations}
}

func template(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}
}

func deployment(namespace, name string, replicas *int32, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: meta(namespace, name, annotations), Spec: appsv1.DeploymentSpec{
		Replicas: replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: template(name)}}
}

func statefulSet(namespace, name string, replicas *int32, annotations map[string]string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: meta(namespace, name, annotations), Spec: appsv1.StatefulSetSpec{
		Replicas: replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: template(name)}}
}

func cronJob(namespace, name string, suspend bool, annotations map[string]string) *batchv1.CronJob {
	tmpl := template(name)
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.CronJob{ObjectMeta: meta(namespace, name, annotations), Spec: batchv1.CronJobSpec{
		Schedule: "0 * * * *", Suspend: &suspend,
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		require.NoError(t, c.Create(context.Background(), o), "create %s", o.GetName())
	}
}

// get re-reads obj from the API server.
func get(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	require.NoError(t, c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
}

func ptr[T any](v T) *T { return &v }
