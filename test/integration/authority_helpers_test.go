package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// planImage is the data-plane image a Replication resolves to when its
// source RemoteCluster names none: the one image a genuine step may run.
var planImage = contract.Image{Reference: drv1.DefaultDataPlaneImage, PullPolicy: drv1.DefaultPullPolicy}

// createAuthority creates Replication name in ControlNamespace of control,
// copying namespace from of RemoteCluster source into namespace to of
// RemoteCluster dest, and returns the authority its PVC steps carry.
func createAuthority(t *testing.T, control client.Client, name, source, from, dest, to string) *contract.PlanRequest {
	t.Helper()
	r := &drv1.Replication{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: name},
		Spec: drv1.ReplicationSpec{
			SourceCluster: source, DestinationCluster: dest, SourceNamespace: from, DestinationNamespace: to,
			ReplicationMode: drv1.ModeManual, PVCConfig: &drv1.PVCConfig{SyncData: true},
		},
	}
	require.NoError(t, control.Create(context.Background(), r))
	return &contract.PlanRequest{Replication: contract.ObjectRef{Namespace: r.Namespace, Name: r.Name}}
}

// createAgent plays the agent DaemonSet on node: the node itself and an
// agent pod on it with ip, as a mount pod's step looks them up.
func createAgent(t *testing.T, c client.Client, node, ip string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}})))
	testenv.EnsureNamespace(t, c, contract.AgentNamespace)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: contract.AgentNamespace, Name: "agent-" + node,
			Labels: map[string]string{"app.kubernetes.io/name": "dr-syncer-agent"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "agent", Image: planImage.Reference}}},
	}
	require.NoError(t, c.Create(ctx, pod))
	pod.Status.PodIP, pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	require.NoError(t, c.Status().Update(ctx, pod))
}

// assertRefused asserts that err is the non-retryable InputMismatch a step
// gives a forged input, and that its message says each of says.
func assertRefused(t *testing.T, err error, says ...string) {
	t.Helper()
	assertNonRetryable(t, err, contract.ErrTypeInputMismatch, says...)
}

// assertNonRetryable fails t unless err is a non-retryable application
// error of errType whose message says every one of says: a step that
// never gets better by retrying.
func assertNonRetryable(t *testing.T, err error, errType string, says ...string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "got %v", err)
	assert.Equal(t, errType, appErr.Type())
	assert.True(t, appErr.NonRetryable(), "%s never gets better by retrying", errType)
	for _, s := range says {
		assert.Contains(t, appErr.Error(), s)
	}
}
