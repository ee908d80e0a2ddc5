package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
)

func testKeySecret(t *testing.T, generated time.Time, handled string, previous bool) (*corev1.Secret, string) {
	t.Helper()
	k, err := keys.GenerateClusterPairKey("test")
	require.NoError(t, err)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			contract.AnnotationKeyGeneratedAt: generated.Format(time.RFC3339), contract.AnnotationRotateKeysHandled: handled}},
		Data: map[string][]byte{contract.SecretKeyClusterPrivate: k.PrivateKey.Reveal(), contract.SecretKeyClusterPublic: k.AuthorizedKey},
	}
	if previous {
		old, err := keys.GenerateClusterPairKey("old")
		require.NoError(t, err)
		s.Data[contract.SecretKeyClusterPreviousPublic] = old.AuthorizedKey
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
	broken := &corev1.Secret{Data: map[string][]byte{contract.SecretKeyClusterPublic: []byte("nope")}}
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
		{"agent ready starts the connectivity check", clusterMappingObservation{Source: enabled(&drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: "a", Result: "Completed"}})}, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity},
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

func TestPlanClusterMappingConnectivity(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	key, fp := testKeySecret(t, now.Add(-time.Hour), "", false)
	source := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec:   drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true}},
		Status: drv1.RemoteClusterStatus{Agent: &drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: "rollout-1", Result: "Completed"}}}}
	mapping := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "prod-to-dr", Generation: 2},
		Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr"}}
	version := checkVersion(fp, 2, "rollout-1")
	id := func(seq int) string { return contract.ConnectivityWorkflowID("ns", "prod-to-dr", version, seq) }
	ok := &contract.ConnectivityResult{Connected: true, Agents: []sshcheck.Result{{Addr: "10.0.0.1:2222", OK: true}}}
	wrongKey := &contract.ConnectivityResult{Agents: []sshcheck.Result{{Addr: "10.0.0.1:2222", OK: true},
		{Addr: "10.0.0.2:2222", Kind: sshcheck.KindAuth, Error: "authentication failed (the agent does not accept this cluster key)"}}}
	closed := func(seq int, ago time.Duration, r *contract.ConnectivityResult) *connectivityCheck {
		return &connectivityCheck{WorkflowID: id(seq), RunID: "r", Status: "Completed", Start: now.Add(-ago - time.Second), Closed: now.Add(-ago), Result: r}
	}
	for _, tc := range []struct {
		name       string
		check      *connectivityCheck
		agentKeys  []string
		phase      drv1.ClusterMappingPhase
		reason     string
		start      string
		msg        []string
		verifiedAt bool
	}{
		{"no check yet starts one", nil, []string{fp}, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity, id(1), nil, false},
		{"the agent without the key waits", nil, []string{"SHA256:old"}, drv1.ClusterMappingConnecting, ReasonWaitingForKeyRollout, "", nil, false},
		{"a running check is Connecting", &connectivityCheck{WorkflowID: id(1), Running: true}, nil, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity, "", nil, false},
		{"all agents passed is Connected", closed(1, time.Minute, ok), nil, drv1.ClusterMappingConnected, ReasonConnected, "", []string{"all 1 agents"}, true},
		{"an old pass is re-checked", closed(1, RecheckInterval, ok), nil, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity, id(2), nil, true},
		{"a wrong key is Failed with what to fix", closed(1, time.Second, wrongKey), nil, drv1.ClusterMappingFailed, ReasonConnectivityFailed, "",
			[]string{"agent 10.0.0.2:2222: authentication failed (the agent does not accept this cluster key)", "rotate keys"}, true},
		{"a failed check is retried", closed(1, FailedRecheckInterval, wrongKey), nil, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity, id(2), nil, true},
		{"a failed workflow is Failed with its error",
			&connectivityCheck{WorkflowID: id(1), Status: "Failed", Closed: now, Error: "pod did not finish within 60s"}, nil,
			drv1.ClusterMappingFailed, ReasonConnectivityFailed, "", []string{"did not complete (Failed): pod did not finish within 60s"}, true},
		{"a check of an older key starts a new one", &connectivityCheck{WorkflowID: contract.ConnectivityWorkflowID("ns", "prod-to-dr", "0ld", 4), Closed: now, Result: ok},
			nil, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity, id(1), nil, false},
		{"a check Temporal lost starts the next", &connectivityCheck{WorkflowID: id(3), Lost: true}, nil, drv1.ClusterMappingConnecting, ReasonCheckingConnectivity, id(4), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mapping.DeepCopy()
			if tc.check != nil {
				m.Status.ConnectivityCheck = &drv1.WorkflowRef{WorkflowID: tc.check.WorkflowID}
			}
			p := planClusterMapping(clusterMappingObservation{Mapping: m, KeySecret: key, Source: source, AgentKeys: tc.agentKeys, Check: tc.check}, now, time.Second)
			assert.Equal(t, tc.phase, p.Status.Phase)
			require.Len(t, p.Status.Conditions, 1)
			c := p.Status.Conditions[0]
			assert.Equal(t, tc.reason, c.Reason, c.Message)
			assert.Equal(t, tc.reason == ReasonConnected, c.Status == metav1.ConditionTrue)
			assert.Equal(t, tc.start, p.StartCheck)
			for _, s := range tc.msg {
				assert.Contains(t, c.Message, s)
			}
			assert.Equal(t, tc.verifiedAt, p.Status.LastVerified != nil)
			assert.NotZero(t, p.RequeueAfter)
			if tc.start != "" {
				require.NotNil(t, p.Status.ConnectivityCheck)
				assert.Equal(t, tc.start, p.Status.ConnectivityCheck.WorkflowID)
			}
		})
	}

	t.Run("a re-check keeps the last verdict", func(t *testing.T) {
		m := mapping.DeepCopy()
		m.Status.ConnectivityCheck = &drv1.WorkflowRef{WorkflowID: id(2)}
		m.Status.Phase = drv1.ClusterMappingConnected
		m.Status.Conditions = []metav1.Condition{{Type: drv1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonConnected, Message: "all good"}}
		p := planClusterMapping(clusterMappingObservation{Mapping: m, KeySecret: key, Source: source,
			Check: &connectivityCheck{WorkflowID: id(2), Running: true}}, now, time.Second)
		assert.Equal(t, drv1.ClusterMappingConnected, p.Status.Phase)
		assert.Equal(t, "all good", p.Status.Conditions[0].Message)
	})
	t.Run("verifyConnectivity false checks nothing", func(t *testing.T) {
		m := mapping.DeepCopy()
		m.Spec.VerifyConnectivity = new(bool)
		p := planClusterMapping(clusterMappingObservation{Mapping: m, KeySecret: key, Source: source}, now, time.Second)
		assert.Equal(t, drv1.ClusterMappingPending, p.Status.Phase)
		assert.Equal(t, ReasonNotVerified, p.Status.Conditions[0].Reason)
		assert.Empty(t, p.StartCheck)
	})
}
