package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// A RemoteCluster and its ClusterMapping applied together: a rollout
// planned before the mapping's reconciler wrote the key would install the
// agent without it, and the keys-only rollout that follows reaches the
// running agent only when kubelet refreshes its Secret volume (up to a
// minute), while syncs are refused. The rollout waits, briefly, for a key
// that is about to exist, and for no other.
func TestPlanRemoteClusterAwaitsANewMappingsKey(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	poll := 3 * time.Second
	mapping := contract.ObjectRef{Namespace: "ns", Name: "src-to-dr"}
	fresh := resolve.UnkeyedMapping{Mapping: mapping, Created: now.Add(-2 * time.Second)}
	idA := contract.AgentRolloutWorkflowID("ns", "src", "vA")
	completedA := &drv1.AgentStatus{ReadyNodes: 1, TotalNodes: 1, Rollout: &drv1.WorkflowRef{WorkflowID: idA, Result: resultCompleted}}
	obs := func(agent *drv1.AgentStatus, version string, unkeyed ...resolve.UnkeyedMapping) remoteClusterObservation {
		rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src", Generation: 1},
			Spec:   drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true}},
			Status: drv1.RemoteClusterStatus{Health: HealthHealthy, Agent: agent}}
		return remoteClusterObservation{Cluster: rc, Probed: true, Rollout: contract.AgentRolloutInput{Version: version}, Unkeyed: unkeyed}
	}
	for _, tc := range []struct {
		name    string
		obs     remoteClusterObservation
		start   bool
		reason  string
		message string
	}{
		{name: "first rollout waits for the key of a mapping not reconciled yet",
			obs: obs(nil, "vA", fresh), reason: ReasonAgentPending, message: "cluster-pair key of ClusterMapping ns/src-to-dr"},
		{name: "first rollout into a cluster without an agent DaemonSet waits too, and says so",
			obs: func() remoteClusterObservation {
				o := obs(nil, "vA", fresh)
				o.Deployed = &kube.DaemonSetState{}
				return o
			}(), reason: ReasonAgentPending, message: "cluster-pair key of ClusterMapping ns/src-to-dr"},
		{name: "first rollout starts once the key exists", obs: obs(nil, "vA"), start: true, reason: ReasonAgentRollingOut},
		{name: "a mapping whose reconciler ran without making a key is not waited for",
			obs:   obs(nil, "vA", resolve.UnkeyedMapping{Mapping: mapping, Created: now.Add(-2 * time.Second), Reconciled: true}),
			start: true, reason: ReasonAgentRollingOut},
		{name: "the wait is bounded: a mapping older than the bound is not waited for",
			obs: obs(nil, "vA", resolve.UnkeyedMapping{Mapping: mapping, Created: now.Add(-unkeyedMappingWait)}), start: true, reason: ReasonAgentRollingOut},
		{name: "a mapping being deleted is not waited for",
			obs: obs(nil, "vA", resolve.UnkeyedMapping{Mapping: mapping, Created: now, Deleting: true}), start: true, reason: ReasonAgentRollingOut},
		{name: "a running agent keeps serving and stays Ready while a new mapping's key is awaited",
			obs: obs(completedA, "vB", fresh), reason: ReasonAgentReady, message: "agent ready on 1/1 nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planRemoteCluster(tc.obs, now, poll, time.Minute)
			ready := meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionReady)
			require.NotNil(t, ready)
			assert.Equal(t, tc.reason, ready.Reason)
			assert.Contains(t, ready.Message, tc.message)
			assert.Equal(t, tc.start, p.StartRollout != nil, "rollout started")
			assert.Nil(t, p.CancelRollout, "a completed or absent rollout is never cancelled")
			if !tc.start {
				assert.Equal(t, poll, p.RequeueAfter, "the key is looked for again at the poll interval")
			}
		})
	}

	t.Run("a DaemonSet gone meanwhile is reported as drift, not as ready", func(t *testing.T) {
		o := obs(completedA, "vA", fresh)
		o.Deployed = &kube.DaemonSetState{}
		p := planRemoteCluster(o, now, poll, time.Minute)
		ready := meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionReady)
		require.NotNil(t, ready)
		assert.Equal(t, ReasonAgentDrifted, ready.Reason)
		assert.Contains(t, ready.Message, "missing in cluster src")
		assert.Contains(t, ready.Message, "ClusterMapping ns/src-to-dr")
		assert.Nil(t, p.StartRollout)
	})
}

func TestRolloutChange(t *testing.T) {
	cfg := contract.AgentConfig{Image: "dataplane:v1", PullPolicy: "IfNotPresent", Port: 2322}
	base := rolloutInputs{Config: cfg, HostKey: "SHA256:host", Authorized: []string{"SHA256:a"},
		Whose: map[string]string{"SHA256:a": "dr-syncer ns/a"}}
	with := func(edit func(*rolloutInputs)) rolloutInputs {
		in := base
		in.Whose = map[string]string{"SHA256:a": "dr-syncer ns/a", "SHA256:b": "dr-syncer ns/b"}
		edit(&in)
		return in
	}
	for _, tc := range []struct {
		name     string
		old, new rolloutInputs
		want     string
	}{
		{"a mapping's key added", base, with(func(in *rolloutInputs) { in.Authorized = []string{"SHA256:a", "SHA256:b"} }),
			"authorized keys +SHA256:b (dr-syncer ns/b)"},
		{"a mapping's key removed", with(func(in *rolloutInputs) { in.Authorized = []string{"SHA256:a", "SHA256:b"} }), base,
			"authorized keys -SHA256:b (dr-syncer ns/b)"},
		{"settings and host key", base, with(func(in *rolloutInputs) {
			in.Config.Port, in.Config.Image, in.HostKey = 2422, "dataplane:v2", "SHA256:host2"
		}), "agent settings: image dataplane:v1 → dataplane:v2, port 2322 → 2422; host key SHA256:host → SHA256:host2"},
		{"settings unknown (rebuilt from an outcome) are not compared", with(func(in *rolloutInputs) { in.ConfigUnknown, in.Config = true, contract.AgentConfig{} }),
			base, "no input changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, rolloutChange(tc.old, tc.new))
		})
	}
}

// The log line of a rollout start names both versions and what moved, so a
// flip between two versions explains itself.
func TestStartNote(t *testing.T) {
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"}}
	old := rolloutInputs{Config: contract.AgentConfig{Image: "img", Port: 2322}, HostKey: "SHA256:host"}
	now := rolloutInputs{Config: old.Config, HostKey: old.HostKey, Authorized: []string{"SHA256:k"}, Whose: map[string]string{"SHA256:k": "dr-syncer ns/m"}}
	obs := remoteClusterObservation{Cluster: rc, Rollout: contract.AgentRolloutInput{Version: now.version()}, Inputs: now, TrackedInputs: &old}
	running := &drv1.WorkflowRef{WorkflowID: contract.AgentRolloutWorkflowID("ns", "src", old.version())}

	assert.Equal(t, "agent rollout version "+old.version()+" (running, cancelled now) superseded by "+now.version()+
		": authorized keys +SHA256:k (dr-syncer ns/m)", startNote(running, obs))

	unknown := obs
	unknown.TrackedInputs = nil
	assert.Contains(t, startNote(&drv1.WorkflowRef{WorkflowID: running.WorkflowID, Result: "Canceled"}, unknown),
		"(Canceled) superseded by "+now.version()+": the old version's inputs are unknown (planned before this controller started); now image img, port 2322, host key SHA256:host, authorized keys [SHA256:k (dr-syncer ns/m)]")

	assert.Equal(t, "agent rollout version "+now.version()+": image img, port 2322, host key SHA256:host, authorized keys [SHA256:k (dr-syncer ns/m)]",
		startNote(nil, obs), "a first rollout logs its inputs")
	assert.Empty(t, startNote(&drv1.WorkflowRef{WorkflowID: contract.AgentRolloutWorkflowID("ns", "src", now.version())}, obs),
		"a re-run of the same version is logged as a retry or drift, not a supersession")
}
