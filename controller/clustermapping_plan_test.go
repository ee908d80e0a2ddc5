package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

func testKeySecret(t *testing.T, generated time.Time, handled string, previous bool) (*corev1.Secret, string) {
	t.Helper()
	k, err := keys.GenerateClusterPairKey("test")
	require.NoError(t, err)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			activities.AnnotationKeyGeneratedAt: generated.Format(time.RFC3339), activities.AnnotationRotateKeysHandled: handled}},
		Data: map[string][]byte{activities.SecretKeyClusterPrivate: k.PrivateKey.Reveal(), activities.SecretKeyClusterPublic: k.AuthorizedKey},
	}
	if previous {
		old, err := keys.GenerateClusterPairKey("old")
		require.NoError(t, err)
		s.Data[activities.SecretKeyClusterPreviousPublic] = old.AuthorizedKey
	}
	return s, k.Fingerprint
}

func TestPlanClusterMappingKeys(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	source := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Name: "source"}}
	mapping := func(annotation string, interval drv1.Duration) *drv1.ClusterMapping {
		m := &drv1.ClusterMapping{Spec: drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr", KeyRotationInterval: interval}}
		if annotation != "" {
			m.Annotations = map[string]string{drv1.AnnotationRotateKeys: annotation}
		}
		return m
	}
	fresh, _ := testKeySecret(t, now.Add(-time.Hour), "", false)
	handled, _ := testKeySecret(t, now.Add(-time.Hour), "r1", false)
	old, _ := testKeySecret(t, now.Add(-48*time.Hour), "", false)
	overlap, overlapFP := testKeySecret(t, now.Add(-time.Minute), "r1", true)
	broken := &corev1.Secret{Data: map[string][]byte{activities.SecretKeyClusterPublic: []byte("nope")}}
	for _, tc := range []struct {
		name      string
		m         *drv1.ClusterMapping
		secret    *corev1.Secret
		agentKeys []string
		want      keyAction
		handled   string
	}{
		{"no Secret generates, settling a present annotation", mapping("r0", ""), nil, nil, keyGenerate, "r0"},
		{"an unusable Secret is regenerated", mapping("", ""), broken, nil, keyGenerate, ""},
		{"a valid key is kept", mapping("", ""), fresh, nil, keyKeep, ""},
		{"a new annotation value rotates", mapping("r1", ""), fresh, nil, keyRotate, "r1"},
		{"a handled annotation value does not", mapping("r1", ""), handled, nil, keyKeep, "r1"},
		{"the interval rotates an old key", mapping("", "24h"), old, nil, keyRotate, ""},
		{"the overlap holds until the agent has the new key", mapping("r1", ""), overlap, []string{"SHA256:other"}, keyKeep, "r1"},
		{"the overlap ends when it has", mapping("r1", ""), overlap, []string{overlapFP}, keyDropPrevious, "r1"},
		{"a rotation during an overlap waits", mapping("r2", ""), overlap, nil, keyKeep, "r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planClusterMapping(clusterMappingObservation{Mapping: tc.m, KeySecret: tc.secret, Source: source, AgentKeys: tc.agentKeys}, now, time.Second)
			assert.Equal(t, tc.want, p.Keys)
			assert.Equal(t, tc.handled, p.Status.RotateKeysHandled)
			assert.NotNil(t, p.Status.KeyGeneratedAt)
		})
	}
}

func TestPlanClusterMappingPhase(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	key, _ := testKeySecret(t, now, "", false)
	enabled := func(agent *drv1.AgentStatus) *drv1.RemoteCluster {
		return &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Name: "source"},
			Spec: drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true}}, Status: drv1.RemoteClusterStatus{Agent: agent}}
	}
	for _, tc := range []struct {
		name   string
		obs    clusterMappingObservation
		phase  drv1.ClusterMappingPhase
		reason string
	}{
		{"missing cluster fails", clusterMappingObservation{Problem: "RemoteCluster x/prod not found"}, drv1.ClusterMappingFailed, ReasonMappingInvalidReference},
		{"no agent", clusterMappingObservation{Source: &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Name: "source"}}}, drv1.ClusterMappingPending, ReasonAgentDisabled},
		{"agent rolling out", clusterMappingObservation{Source: enabled(&drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: "a"}})}, drv1.ClusterMappingPending, ReasonWaitingForAgent},
		{"agent ready", clusterMappingObservation{Source: enabled(&drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: "a", Result: "Completed"}})}, drv1.ClusterMappingPending, ReasonKeysReady},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.obs.Mapping = &drv1.ClusterMapping{Spec: drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr"}}
			tc.obs.KeySecret = key
			p := planClusterMapping(tc.obs, now, time.Second)
			assert.Equal(t, tc.phase, p.Status.Phase)
			require.Len(t, p.Status.Conditions, 1)
			assert.Equal(t, tc.reason, p.Status.Conditions[0].Reason)
		})
	}
}
