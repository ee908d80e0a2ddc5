package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/starter"
)

// probeTimeout bounds one health probe, so an unreachable cluster does not
// hold a reconcile worker for the client's default timeout.
const probeTimeout = 10 * time.Second

// remoteClusterObservation is everything planRemoteCluster needs.
type remoteClusterObservation struct {
	Cluster *drv1.RemoteCluster
	// KubeconfigProblem says what to fix when the kubeconfig Secret or key is missing.
	KubeconfigProblem string
	// Probed is set when the API server was probed this time; ProbeError
	// is then its failure, or empty.
	Probed     bool
	ProbeError string
	Health     kube.ClusterHealth

	// HostKey is the control-cluster Secret of the agent's host key.
	HostKey contract.SecretRef
	// HostKeyMissing asks for a new host key; HostKeyProblem reports a
	// Secret that exists but cannot be used.
	HostKeyMissing bool
	HostKeyProblem string
	// HostKeySecret is the host key Secret as read, valid; HostKeyFP its
	// public key's fingerprint and HostKeyState its rotation.
	HostKeySecret *corev1.Secret
	HostKeyFP     string
	HostKeyState  rotatingKey
	// Rollout is the rollout the spec and keys ask for (Version set).
	Rollout contract.AgentRolloutInput
	// Inputs are what Rollout.Version hashes; TrackedInputs those of the
	// tracked rollout, nil when unknown (see trackedInputs).
	Inputs        rolloutInputs
	TrackedInputs *rolloutInputs
	// Unkeyed are the mappings naming this cluster whose key Secret does
	// not exist yet (see awaitedKeys).
	Unkeyed []resolve.UnkeyedMapping
	// Tracked is the state of status.agent.rollout; TrackedLost when
	// Temporal no longer knows it.
	Tracked     *starter.AgentRolloutState
	TrackedLost bool

	// Checksum is the settings checksum the spec and host key ask for
	// (contract.AgentChecksum), as the pod template would carry it.
	Checksum string
	// Deployed is the agent DaemonSet as the cluster shows it, read on
	// every reconcile of a reachable cluster whose agent can roll out; nil
	// when not read, and then DeployedError may say why.
	Deployed      *kube.DaemonSetState
	DeployedError string
	// OwnerLive is set when the DaemonSet's owner annotation names another
	// RemoteCluster that exists and has pvcSync on.
	OwnerLive bool
}

// observe reads the kubeconfig Secret, probes the cluster when due, reads
// the host key and the authorized keys, and the rollout status follows.
func (r *RemoteClusterReconciler) observe(ctx context.Context, rc *drv1.RemoteCluster, now time.Time) (remoteClusterObservation, error) {
	obs := remoteClusterObservation{Cluster: rc}
	// The Replication reconciler's check, so both kinds say the same thing.
	problem, err := (&ReplicationReconciler{APIReader: r.APIReader, Kubeconfigs: r.Kubeconfigs}).checkKubeconfig(ctx, rc)
	if err != nil {
		return obs, err
	}
	obs.KubeconfigProblem = problem
	if problem == "" && healthCheckDue(rc, now, r.healthInterval()) {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		obs.Health, err = r.Prober.Probe(pctx, rc.Namespace, rc.Name)
		cancel()
		obs.Probed = true
		if err != nil {
			obs.ProbeError = err.Error()
		}
	}
	if agentEnabled(rc) {
		if err := r.observeKeys(ctx, rc, &obs); err != nil {
			return obs, err
		}
	}
	if obs.Rollout.Version != "" && problem == "" && obs.ProbeError == "" && (obs.Probed || rc.Status.Health == HealthHealthy) {
		if err := r.observeDeployed(ctx, rc, &obs); err != nil {
			return obs, err
		}
	}
	if rc.Status.Agent != nil && rc.Status.Agent.Rollout != nil {
		ref := rc.Status.Agent.Rollout
		var err error
		if obs.Tracked, obs.TrackedLost, err = trackedRun(r.Temporal.AgentRolloutState(ctx, ref.WorkflowID, ref.RunID)); err != nil {
			return obs, err
		}
		obs.TrackedInputs = r.trackedInputs(rc, obs.Tracked)
	}
	return obs, nil
}

// observeKeys reads the host key and the cluster-pair public keys, and
// derives the rollout version from them and the spec: any change to what
// the agent must run with gives a new version, hence a new rollout.
func (r *RemoteClusterReconciler) observeKeys(ctx context.Context, rc *drv1.RemoteCluster, obs *remoteClusterObservation) error {
	obs.HostKey = resolve.AgentHostKeySecret(rc)
	if p := rc.ReferenceProblem(r.SystemNamespace); p != "" {
		// Neither read nor generated: the Secret belongs to another tenant.
		obs.HostKeyProblem = p
		return nil
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obs.HostKey.Namespace, Name: obs.HostKey.Name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		obs.HostKeyMissing = true
		return nil
	case err != nil:
		return fmt.Errorf("get agent host key Secret %s/%s: %w", obs.HostKey.Namespace, obs.HostKey.Name, err)
	}
	hostFP, state := hostKeyLayout.read(&s)
	prev := s.Data[contract.SecretKeyHostPreviousPublic]
	if hostFP == "" || (state.Overlap && resolve.PublicKeyFingerprint(prev) == "") {
		// Never regenerated over: a sync may pin what is there, and the
		// operator may want to restore the key rather than replace it.
		obs.HostKeyProblem = fmt.Sprintf("agent host key Secret %s/%s lacks a valid %s with its matching %s (or has an unparsable %s): delete it to have one generated, or fix spec.pvcSync.ssh.keySecretRef",
			obs.HostKey.Namespace, obs.HostKey.Name, contract.SecretKeyHostPrivate, contract.SecretKeyHostPublic, contract.SecretKeyHostPreviousPublic)
		return nil
	}
	obs.HostKeySecret, obs.HostKeyFP, obs.HostKeyState = &s, hostFP, state
	keys, err := resolve.ClusterKeysFor(ctx, r.APIReader, r.SystemNamespace, rc.Namespace, rc.Name)
	if err != nil {
		return err
	}
	obs.Unkeyed = keys.Unkeyed
	cfg := resolve.AgentConfig(rc)
	if obs.Checksum, err = contract.AgentChecksum(cfg, hostFP); err != nil {
		return err
	}
	obs.Inputs = inputsOf(cfg, hostFP, keys)
	obs.Rollout = contract.AgentRolloutInput{
		Cluster: contract.ClusterRef{Namespace: rc.Namespace, Name: rc.Name},
		Version: obs.Inputs.version(),
		Config:  cfg,
		HostKey: obs.HostKey,
	}
	r.rollouts.remember(rc.Namespace+"/"+rc.Name, obs.Inputs)
	return nil
}

// trackedInputs are the inputs of the rollout status.agent names, for the
// log line of its supersession: as this controller planned them, else as
// its completed outcome recorded them (keys without settings; for a shared
// agent, every user's keys, so the diff may name other mappings' keys);
// nil when unknown or when it is a removal.
func (r *RemoteClusterReconciler) trackedInputs(rc *drv1.RemoteCluster, tracked *starter.AgentRolloutState) *rolloutInputs {
	a := rc.Status.Agent
	if a == nil || a.Rollout == nil || isRemoval(a.Rollout.WorkflowID) {
		return nil
	}
	if in, ok := r.rollouts.lookup(rc.Namespace+"/"+rc.Name, versionOf(a.Rollout.WorkflowID)); ok {
		return &in
	}
	if tracked != nil && tracked.Outcome != nil && !tracked.Outcome.Removed {
		return &rolloutInputs{HostKey: tracked.Outcome.HostKeyFingerprint, Authorized: tracked.Outcome.AuthorizedFingerprints, ConfigUnknown: true}
	}
	return nil
}

// observeDeployed reads the cluster's agent DaemonSet and, when another
// RemoteCluster owns it, whether that one still wants an agent. A read
// failure is for the status, not the reconcile: the cluster was reachable.
func (r *RemoteClusterReconciler) observeDeployed(ctx context.Context, rc *drv1.RemoteCluster, obs *remoteClusterObservation) error {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	dep, err := r.Prober.ReadDaemonSet(pctx, rc.Namespace, rc.Name, contract.AgentNamespace, contract.AgentDaemonSetName)
	cancel()
	if err != nil {
		obs.DeployedError = err.Error()
		return nil
	}
	obs.Deployed = &dep
	owner, ok := contract.ParseClusterKey(dep.Annotations[contract.AnnotationAgentOwner])
	if !ok || owner == (contract.ClusterRef{Namespace: rc.Namespace, Name: rc.Name}) {
		return nil
	}
	var o drv1.RemoteCluster
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: owner.Namespace, Name: owner.Name}, &o)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("get RemoteCluster %s, owner of the agent of %s/%s: %w", owner.Key(), rc.Namespace, rc.Name, err)
	}
	obs.OwnerLive = o.DeletionTimestamp == nil && agentEnabled(&o)
	return nil
}

// healthCheckDue probes a cluster that was never probed, is not healthy,
// changed its spec, or was last probed an interval ago; other reconciles
// (rollout polls, mapping changes) reuse the last result.
func healthCheckDue(rc *drv1.RemoteCluster, now time.Time, interval time.Duration) bool {
	st := rc.Status
	return st.LastHealthCheck == nil || st.Health != HealthHealthy || st.ObservedGeneration != rc.Generation ||
		now.Sub(st.LastHealthCheck.Time) >= interval
}

func agentEnabled(rc *drv1.RemoteCluster) bool {
	return rc.Spec.PVCSync != nil && rc.Spec.PVCSync.Enabled
}
