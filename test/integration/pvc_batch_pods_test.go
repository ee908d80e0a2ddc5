package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// EnsureBatchPods makes a batch's pod pair as the solo steps make theirs:
// checked claim by claim against the run's plan, created by name (a retry
// finds them), with the sync pod's certificate issued before it starts.
func TestBatchPods(t *testing.T) {
	steps := newPVCSteps(t)
	env, acts, source, dr := steps.env, steps.acts, steps.source, steps.dr
	ctx := context.Background()
	testenv.EnsureNamespace(t, env.Source.Client, "shop")
	testenv.EnsureNamespace(t, env.DR.Client, "shop-dr")
	createAgent(t, env.Source.Client, "prod-1", "10.244.1.2")

	// The batch is an operation of its own (the run's ID plus /batch-<k>),
	// with its own credentials.
	op := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-0", RunID: "run-1",
		Members: []string{"pvc-sync/source/shop/orders", "pvc-sync/source/shop/users"}}
	credentialsOf := func(op contract.Operation) contract.Credentials {
		t.Helper()
		var creds contract.Credentials
		require.NoError(t, runActivity(t, acts, acts.EnsureCredentials, contract.CredentialsInput{
			Op: op, Source: source, SourceNamespace: "shop", Destination: dr, DestinationNamespace: "shop-dr",
			ClusterKey: steps.clusterKey, AgentHostKey: steps.hostKey, Authority: steps.authority,
		}, &creds))
		return creds
	}
	creds := credentialsOf(op)
	in := contract.BatchPodsInput{
		Op: op, Source: source, SourceNamespace: "shop", SourceNode: "prod-1",
		Destination: dr, DestinationNamespace: "shop-dr", DestinationNode: "dr-1",
		Claims: []contract.BatchClaim{
			{Source: "drs-pit-orders", Target: "orders"}, // a point-in-time copy is read in the source namespace
			{Source: "users", Target: "users", Acknowledged: true},
		},
		Image: planImage, AgentAddr: "10.255.0.11:2222", Credentials: creds.Secret,
		ClusterKey: steps.clusterKey, AgentHostKey: steps.hostKey, Authority: steps.authority, OneMover: true,
	}
	opPods := func(c client.Client, namespace string) []corev1.Pod {
		t.Helper()
		var pods corev1.PodList
		require.NoError(t, c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{kube.LabelOperation: kube.OperationID(op.WorkflowID)}))
		return pods.Items
	}
	noPods := func(t *testing.T) {
		t.Helper()
		assert.Empty(t, opPods(env.Source.Client, "shop"), "a refused batch creates no mount pod")
		assert.Empty(t, opPods(env.DR.Client, "shop-dr"), "a refused batch creates no sync pod")
	}

	t.Run("a claim that lifts the DR-copy guard nobody accepted refuses the batch", func(t *testing.T) {
		err := runActivity(t, acts, acts.EnsureBatchPods, in, nil)
		assertRefused(t, err, "EnsureBatchPods (claim 1: users → users) refused", "no pending accept-changes")
		noPods(t)
	})

	t.Run("a batch outside the Replication's namespaces or keys is refused", func(t *testing.T) {
		forged := in
		forged.DestinationNamespace = "payments"
		assertRefused(t, runActivity(t, acts, acts.EnsureBatchPods, forged, nil),
			"EnsureBatchPods (claim 0: drs-pit-orders → orders) refused", "namespace is payments, the Replication's is shop-dr")
		forged = in
		forged.ClusterKey = contract.SecretRef{Namespace: "tenant-b", Name: "their-pair"}
		assertRefused(t, runActivity(t, acts, acts.EnsureBatchPods, forged, nil), "cluster key Secret is {Namespace:tenant-b Name:their-pair}")
		forged = in
		forged.Authority = nil
		assertRefused(t, runActivity(t, acts, acts.EnsureBatchPods, forged, nil), "names no Replication")
		noPods(t)
	})

	// A person accepts the source's change: claim 1 may lift its guard.
	var r drv1.Replication
	require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: steps.authority.Replication.Namespace, Name: steps.authority.Replication.Name}, &r))
	r.Annotations = map[string]string{drv1.AnnotationAcceptChanges: "2026-12-06"}
	require.NoError(t, env.DR.Client.Update(ctx, &r))

	var pods contract.BatchPods
	require.NoError(t, runActivity(t, acts, acts.EnsureBatchPods, in, &pods))
	target := kube.MountTarget("shop", op.Name("mount"))
	assert.Equal(t, contract.BatchPods{MountPod: op.Name("mount"), SyncPod: op.Name("sync"), Target: target}, pods)

	t.Run("the mount pod serves every source claim read-only on the source node", func(t *testing.T) {
		mounts := opPods(env.Source.Client, "shop")
		require.Len(t, mounts, 1)
		mount := mounts[0]
		assert.Equal(t, op.Name("mount"), mount.Name)
		assert.Equal(t, op.Labels("mount"), mount.Labels)
		assert.Equal(t, "prod-1", mount.Spec.NodeName)
		c := mount.Spec.Containers[0]
		assert.Equal(t, planImage.Reference, c.Image)
		assert.Equal(t, planImage.PullPolicy, c.ImagePullPolicy)
		assert.Contains(t, c.Env, corev1.EnvVar{Name: "DRSYNCER_HOSTS_ALLOW", Value: "10.244.1.2"}, "the rsync daemon admits only the agent on its node")
		claims := map[string]bool{} // claim → read-only
		for _, v := range mount.Spec.Volumes {
			if pvc := v.PersistentVolumeClaim; pvc != nil {
				claims[pvc.ClaimName] = pvc.ReadOnly
			}
			if s := v.Secret; s != nil {
				assert.Equal(t, creds.Secret, s.SecretName)
			}
		}
		assert.Equal(t, map[string]bool{"drs-pit-orders": true, "users": true}, claims)
		for _, m := range c.VolumeMounts {
			assert.True(t, m.ReadOnly, m.Name)
		}
		assert.Contains(t, c.Command, kube.BatchModule(1)+"="+kube.BatchDataPath(1))
	})

	t.Run("the sync pod fills every DR claim read-write on the DR node, one mover for all", func(t *testing.T) {
		syncs := opPods(env.DR.Client, "shop-dr")
		require.Len(t, syncs, 1)
		sync := syncs[0]
		assert.Equal(t, op.Name("sync"), sync.Name)
		assert.Equal(t, op.Labels("sync"), sync.Labels)
		assert.Equal(t, []string{"dr-1"}, sync.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values)
		claims := map[string]bool{} // volume → claim read-only
		volumeClaim := map[string]string{}
		for _, v := range sync.Spec.Volumes {
			if pvc := v.PersistentVolumeClaim; pvc != nil {
				claims[pvc.ClaimName] = pvc.ReadOnly
				volumeClaim[v.Name] = pvc.ClaimName
			}
		}
		assert.Equal(t, map[string]bool{"orders": false, "users": false}, claims)
		require.Len(t, sync.Spec.Containers, 1, "one mover fills every claim")
		c := sync.Spec.Containers[0]
		assert.Equal(t, kube.BatchMoversContainer, c.Name)
		assert.Equal(t, planImage.Reference, c.Image)
		config, err := json.Marshal(in.Config)
		require.NoError(t, err)
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		assert.Equal(t, target, env["DRSYNCER_TARGET"])
		assert.Equal(t, in.AgentAddr, env["DRSYNCER_AGENT_ADDR"])
		assert.JSONEq(t, string(config), env["DRSYNCER_SYNC_CONFIG"])
		assert.NotContains(t, env, "DRSYNCER_ACCEPT_SOURCE_CHANGE", "no change is accepted for the whole batch")
		mountedAt := map[string]string{} // path → claim
		for _, m := range c.VolumeMounts {
			if claim, ok := volumeClaim[m.Name]; ok {
				mountedAt[m.MountPath] = claim
			}
		}
		// Claim 0 is orders, claim 1 users, whose change a person accepted.
		assert.Equal(t, []string{"/usr/local/bin/mover",
			"--claim", kube.BatchModule(0) + "=" + kube.BatchDataPath(0),
			"--claim", kube.BatchModule(1) + "=" + kube.BatchDataPath(1), "--accept-source-change-for", kube.BatchModule(1),
		}, c.Command)
		assert.Equal(t, map[string]string{kube.BatchDataPath(0): "orders", kube.BatchDataPath(1): "users"}, mountedAt)
		for _, v := range sync.Spec.Volumes {
			if s := v.Secret; s != nil {
				assert.Equal(t, creds.Secret, s.SecretName, v.Name)
			}
		}
	})

	secretOn := func(name string) *corev1.Secret {
		t.Helper()
		var s corev1.Secret
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "shop-dr", Name: name}, &s))
		return &s
	}
	drSecret := func() map[string][]byte { return secretOn(creds.Secret).Data }
	issued := drSecret()
	t.Run("the pods and Secrets name the syncs they serve", func(t *testing.T) {
		for _, member := range op.Members {
			for _, pod := range append(opPods(env.Source.Client, "shop"), opPods(env.DR.Client, "shop-dr")...) {
				assert.Equal(t, kube.ManagedBy, pod.Labels[kube.MemberLabel(member)], pod.Name)
			}
			for _, c := range []struct {
				cl client.Client
				ns string
			}{{env.Source.Client, "shop"}, {env.DR.Client, "shop-dr"}} {
				var s corev1.Secret
				require.NoError(t, c.cl.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: creds.Secret}, &s))
				assert.Equal(t, kube.ManagedBy, s.Labels[kube.MemberLabel(member)], c.ns)
			}
		}
	})
	t.Run("the sync pod's certificate is issued as for a solo sync pod, bound to the batch's mount pod", func(t *testing.T) {
		cert, err := keys.ParseCert(issued[kube.SecretKeyOpCert])
		require.NoError(t, err)
		_, err = keys.CertSigner(issued[kube.SecretKeyOpKey], issued[kube.SecretKeyOpCert])
		require.NoError(t, err, "the key and certificate belong together")
		assert.Equal(t, steps.pair.Fingerprint, keys.Fingerprint(cert.SignatureKey), "signed by the cluster-pair key")
		bound, err := keys.CertTarget(cert)
		require.NoError(t, err)
		assert.Equal(t, target, bound)
		assert.Equal(t, "pvcsync shop-dr/orders,users "+op.WorkflowID, cert.KeyId)
		assert.Equal(t, steps.hostPub, issued[kube.SecretKeyAgentHostKey])
		assertNoClusterPairKey(t, issued, steps.pair)
	})

	t.Run("a retry finds both pods and keeps their identity", func(t *testing.T) {
		mountUID, syncUID := opPods(env.Source.Client, "shop")[0].UID, opPods(env.DR.Client, "shop-dr")[0].UID
		var again contract.BatchPods
		require.NoError(t, runActivity(t, acts, acts.EnsureBatchPods, in, &again))
		assert.Equal(t, pods, again)
		mounts, syncs := opPods(env.Source.Client, "shop"), opPods(env.DR.Client, "shop-dr")
		require.Len(t, mounts, 1)
		require.Len(t, syncs, 1)
		assert.Equal(t, mountUID, mounts[0].UID)
		assert.Equal(t, syncUID, syncs[0].UID)
		assert.Equal(t, issued[kube.SecretKeyOpCert], drSecret()[kube.SecretKeyOpCert], "the pod that was found keeps its certificate")
	})

	// The run stages the next batch while the current one moves data: its
	// mount pod starts, but no agent serves it while held, and its sync pod
	// is not placed (a scheduling gate) until ReleaseBatchPods relabels the
	// one and ungates the other. A batch of its own, so the subtests above
	// are not disturbed.
	held := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-7", RunID: "run-1",
		Members: []string{"pvc-sync/source/shop/carts"}}
	heldCreds := credentialsOf(held)
	heldIn := in
	heldIn.Op, heldIn.Credentials, heldIn.Held = held, heldCreds.Secret, true
	heldIn.Claims = []contract.BatchClaim{{Source: "carts", Target: "carts"}, {Source: "drs-pit-sessions", Target: "sessions"}}
	release := contract.ReleaseBatchInput{Op: held, Source: source, SourceNamespace: "shop", Destination: dr, DestinationNamespace: "shop-dr", Pods: &heldIn}
	getPod := func(c client.Client, namespace, name string) corev1.Pod {
		t.Helper()
		var pod corev1.Pod
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &pod))
		return pod
	}
	var heldPods contract.BatchPods
	require.NoError(t, runActivity(t, acts, acts.EnsureBatchPods, heldIn, &heldPods))
	assert.Equal(t, contract.BatchPods{MountPod: held.Name("mount"), SyncPod: held.Name("sync"), Target: kube.MountTarget("shop", held.Name("mount"))}, heldPods)
	heldMount, heldSync := getPod(env.Source.Client, "shop", held.Name("mount")), getPod(env.DR.Client, "shop-dr", held.Name("sync"))

	t.Run("a held batch's mount pod carries the role no agent serves, its sync pod is gated, and its movers wait a day", func(t *testing.T) {
		assert.Equal(t, []corev1.PodSchedulingGate{{Name: kube.StagedGate}}, heldSync.Spec.SchedulingGates, "it takes no room on the DR node while staged")
		assert.Empty(t, heldMount.Spec.SchedulingGates, "the mount pod starts while staged")
		assert.Empty(t, opPods(env.DR.Client, "shop-dr")[0].Spec.SchedulingGates, "a batch that is not held is placed at once")
		want := held.Labels("mount")
		want[kube.LabelRole] = kube.RoleMountHeld
		assert.Equal(t, want, heldMount.Labels, "only the role differs from a batch that is not held")
		assert.Equal(t, held.Labels("sync"), heldSync.Labels)
		require.Len(t, heldSync.Spec.Containers, 1)
		assert.Equal(t, []string{"--target-wait", "24h0m0s"}, heldSync.Spec.Containers[0].Command[len(heldSync.Spec.Containers[0].Command)-2:])
		for _, c := range opPods(env.DR.Client, "shop-dr")[0].Spec.Containers {
			assert.NotContains(t, c.Command, "--target-wait", "a batch that is not held waits the mover's default (%s)", c.Name)
		}
	})

	t.Run("a release that names other pods than the batch's is refused, and both pods stay held", func(t *testing.T) {
		forged := heldIn
		forged.DestinationNamespace = "tenant-b"
		in := release
		in.Pods = &forged
		err := runActivity(t, acts, acts.ReleaseBatchPods, in, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not batch "+held.WorkflowID+"'s")
		assert.Equal(t, heldSync.Spec.SchedulingGates, getPod(env.DR.Client, "shop-dr", held.Name("sync")).Spec.SchedulingGates)
		assert.Equal(t, kube.RoleMountHeld, getPod(env.Source.Client, "shop", held.Name("mount")).Labels[kube.LabelRole], "no agent serves it")
	})

	t.Run("releasing a held batch relabels its mount pod and ungates its sync pod, once, with a fresh certificate", func(t *testing.T) {
		// Staged behind a batch that moved data for 14 minutes: the
		// certificate issued with the pods has one minute left.
		secret := secretOn(heldCreds.Secret)
		ca, err := ssh.ParsePrivateKey(steps.pair.PrivateKey.Reveal())
		require.NoError(t, err)
		old, err := keys.ParseCert(secret.Data[kube.SecretKeyOpCert])
		require.NoError(t, err)
		aged, err := keys.IssueCert(keys.IssueRequest{CA: ca, KeyID: old.KeyId, Target: kube.MountTarget("shop", held.Name("mount")),
			Validity: keys.DefaultCertValidity, Now: time.Now().Add(-14 * time.Minute)})
		require.NoError(t, err)
		secret.Data[kube.SecretKeyOpKey], secret.Data[kube.SecretKeyOpCert] = aged.PrivateKey.Reveal(), aged.Certificate
		require.NoError(t, env.DR.Client.Update(ctx, secret))

		require.NoError(t, runActivity(t, acts, acts.ReleaseBatchPods, release, nil))
		renewed := secretOn(heldCreds.Secret).Data
		cert, err := keys.ParseCert(renewed[kube.SecretKeyOpCert])
		require.NoError(t, err)
		assert.Greater(t, time.Until(time.Unix(int64(cert.ValidBefore), 0)), 14*time.Minute, "issued at the release")
		_, err = keys.CertSigner(renewed[kube.SecretKeyOpKey], renewed[kube.SecretKeyOpCert])
		require.NoError(t, err, "the key and certificate belong together")
		bound, err := keys.CertTarget(cert)
		require.NoError(t, err)
		assert.Equal(t, kube.MountTarget("shop", held.Name("mount")), bound)
		assert.Equal(t, old.KeyId, cert.KeyId)

		released := getPod(env.Source.Client, "shop", held.Name("mount"))
		assert.Equal(t, held.Labels("mount"), released.Labels, "role mount: the agent serves it")
		assert.Equal(t, heldMount.UID, released.UID)
		ungated := getPod(env.DR.Client, "shop-dr", held.Name("sync"))
		assert.Empty(t, ungated.Spec.SchedulingGates, "the scheduler may place it")
		assert.Equal(t, heldSync.UID, ungated.UID)

		require.NoError(t, runActivity(t, acts, acts.ReleaseBatchPods, release, nil), "a second release is a no-op")
		assert.Equal(t, renewed, secretOn(heldCreds.Secret).Data, "a released pod keeps its certificate")
		again := getPod(env.Source.Client, "shop", held.Name("mount"))
		assert.Equal(t, released.ResourceVersion, again.ResourceVersion, "a released pod is not patched again")
		assert.Equal(t, ungated.ResourceVersion, getPod(env.DR.Client, "shop-dr", held.Name("sync")).ResourceVersion)
	})

	t.Run("a release keeps a staged sync pod's certificate that is still fresh", func(t *testing.T) {
		fresh := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-20", RunID: "run-1", Members: held.Members}
		freshCreds := credentialsOf(fresh)
		freshIn := heldIn
		freshIn.Op, freshIn.Credentials = fresh, freshCreds.Secret
		require.NoError(t, runActivity(t, acts, acts.EnsureBatchPods, freshIn, nil))
		first := secretOn(freshCreds.Secret).Data
		in := release
		in.Op, in.Pods = fresh, &freshIn
		require.NoError(t, runActivity(t, acts, acts.ReleaseBatchPods, in, nil))
		assert.Empty(t, getPod(env.DR.Client, "shop-dr", fresh.Name("sync")).Spec.SchedulingGates, "released")
		assert.Equal(t, first, secretOn(freshCreds.Secret).Data, "issued a moment ago: kept")
	})

	t.Run("EnsureBatchPods after the release finds both pods and leaves the mount pod released", func(t *testing.T) {
		var again contract.BatchPods
		require.NoError(t, runActivity(t, acts, acts.EnsureBatchPods, heldIn, &again))
		assert.Equal(t, heldPods, again)
		mount, sync := getPod(env.Source.Client, "shop", held.Name("mount")), getPod(env.DR.Client, "shop-dr", held.Name("sync"))
		assert.Equal(t, heldMount.UID, mount.UID)
		assert.Equal(t, heldSync.UID, sync.UID)
		assert.Equal(t, "mount", mount.Labels[kube.LabelRole], "not held again")
	})

	t.Run("releasing a batch whose mount pod is gone fails without retry, naming the pod", func(t *testing.T) {
		gone := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-8", RunID: "run-1"}
		err := runActivity(t, acts, acts.ReleaseBatchPods, contract.ReleaseBatchInput{Op: gone, Source: source, SourceNamespace: "shop"}, nil)
		assertNonRetryable(t, err, contract.ErrTypeBatchPodsGone, "shop/"+gone.Name("mount"), "is gone")
	})

	t.Run("releasing a batch whose mount pod has finished fails without retry and leaves it held", func(t *testing.T) {
		failed := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-10", RunID: "run-1"}
		pod := unscheduledPod("shop", failed.Name("mount"), failed.Labels(kube.RoleMountHeld))
		create(t, env.Source.Client, pod)
		pod.Status.Phase = corev1.PodFailed
		require.NoError(t, env.Source.Client.Status().Update(ctx, pod))
		err := runActivity(t, acts, acts.ReleaseBatchPods, contract.ReleaseBatchInput{Op: failed, Source: source, SourceNamespace: "shop"}, nil)
		assertNonRetryable(t, err, contract.ErrTypeBatchPodsGone, "shop/"+failed.Name("mount"), "phase Failed")
		assert.Equal(t, kube.RoleMountHeld, getPod(env.Source.Client, "shop", failed.Name("mount")).Labels[kube.LabelRole])
	})

	t.Run("releasing a batch whose sync pod is gone fails without retry, naming the pod", func(t *testing.T) {
		lost := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-11", RunID: "run-1"}
		create(t, env.Source.Client, unscheduledPod("shop", lost.Name("mount"), lost.Labels(kube.RoleMountHeld)))
		err := runActivity(t, acts, acts.ReleaseBatchPods, contract.ReleaseBatchInput{Op: lost, Source: source, SourceNamespace: "shop",
			Destination: dr, DestinationNamespace: "shop-dr"}, nil)
		assertNonRetryable(t, err, contract.ErrTypeBatchPodsGone, "batch sync pod shop-dr/"+lost.Name("sync"), "is gone")
	})

	t.Run("releasing removes the batch's own gate and no other", func(t *testing.T) {
		queued := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-12", RunID: "run-1"}
		create(t, env.Source.Client, unscheduledPod("shop", queued.Name("mount"), queued.Labels(kube.RoleMountHeld)))
		sync := unscheduledPod("shop-dr", queued.Name("sync"), queued.Labels("sync"))
		sync.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/queue"}, {Name: kube.StagedGate}}
		create(t, env.DR.Client, sync)
		require.NoError(t, runActivity(t, acts, acts.ReleaseBatchPods, contract.ReleaseBatchInput{Op: queued, Source: source, SourceNamespace: "shop",
			Destination: dr, DestinationNamespace: "shop-dr"}, nil))
		assert.Equal(t, []corev1.PodSchedulingGate{{Name: "example.com/queue"}}, getPod(env.DR.Client, "shop-dr", queued.Name("sync")).Spec.SchedulingGates,
			"a gate an admission webhook added stays")
	})

	t.Run("a pod of that name that is not the batch's is refused and left as it is", func(t *testing.T) {
		other := contract.Operation{WorkflowID: "replication/ops/shop/manual-1/batch-9", RunID: "run-1"}
		labels := contract.Operation{WorkflowID: "someone/else", RunID: "run-1"}.Labels(kube.RoleMountHeld)
		create(t, env.Source.Client, unscheduledPod("shop", other.Name("mount"), labels))
		err := runActivity(t, acts, acts.ReleaseBatchPods, contract.ReleaseBatchInput{Op: other, Source: source, SourceNamespace: "shop"}, nil)
		assertNonRetryable(t, err, contract.ErrTypeConflict, "shop/"+other.Name("mount"))
		assert.Equal(t, kube.RoleMountHeld, getPod(env.Source.Client, "shop", other.Name("mount")).Labels[kube.LabelRole])
	})
}
