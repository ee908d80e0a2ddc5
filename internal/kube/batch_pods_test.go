package kube_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/mountserver"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

var (
	batchMountOptions = kube.MountPodOptions{
		Name: "mount-b", Namespace: "app", Node: "src-1", Image: "dp:dev", PullPolicy: corev1.PullIfNotPresent,
		Labels: map[string]string{"op": "b"}, CredentialsSecret: "creds", HostsAllow: []string{"10.0.0.7"},
	}
	batchSyncOptions = kube.SyncPodOptions{
		Name: "sync-b", Namespace: "app", Node: "dr-1", Image: "dp:dev", PullPolicy: corev1.PullIfNotPresent,
		Labels: map[string]string{"op": "b"}, AgentAddr: "10.0.0.1:2222", Target: kube.MountTarget("app", "mount-b"),
		SSHSecret: "keys", CredentialsSecret: "creds", SyncConfigJSON: `{"parallelStreams":2}`,
	}
)

// The batch mount pod mounts each source claim read-only at a path of its
// own and serves it as the module named after its index, with flags that
// mountserver accepts; everything else is the single mount pod's.
func TestBatchMountPod(t *testing.T) {
	claims := []string{"db", "logs", "cache"}
	pod := kube.BatchMountPod(kube.BatchMountPodOptions{MountPodOptions: batchMountOptions, Claims: claims})

	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	mountedAt := map[string]string{} // claim -> path in the container
	claimOf := claimsByVolume(pod)
	for _, m := range c.VolumeMounts {
		if claim, ok := claimOf[m.Name]; ok {
			assert.True(t, m.ReadOnly, m.Name)
			mountedAt[claim] = m.MountPath
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			assert.True(t, v.PersistentVolumeClaim.ReadOnly, v.Name)
		}
	}

	require.Equal(t, "/usr/local/bin/mountserver", c.Command[0])
	require.Equal(t, []string{"--port", "8873"}, c.Command[len(c.Command)-2:])
	var served []mountserver.Module
	for i, serve := range pairs(t, c.Command[1:len(c.Command)-2]) {
		require.Equal(t, "--serve", serve[0])
		m, err := mountserver.ParseModule(serve[1])
		require.NoError(t, err)
		assert.Equal(t, kube.BatchModule(i), m.Name)
		assert.Equal(t, kube.BatchDataPath(i), m.Path)
		assert.Equal(t, mountedAt[claims[i]], m.Path, "module %s serves where claim %s is mounted", m.Name, claims[i])
		served = append(served, m)
	}
	assert.Len(t, served, len(claims))
	assert.Len(t, claimOf, len(claims), "a volume per claim")
	require.NoError(t, mountserver.ValidateModules(served))

	single := kube.MountPod(withClaim(batchMountOptions, "db"))
	assert.Equal(t, withoutClaims(single), withoutClaims(pod),
		"node, labels, security, resources, probe, env and the credentials are the single pod's")
}

// The batch sync pod runs one mover for all its DR claims: each claim
// read-write at its own path, filled from its own module, with its own
// acknowledgement; the single sync pod's mover otherwise, asking for its
// resources once per claim.
func TestBatchSyncPod(t *testing.T) {
	claims := []kube.SyncPodClaim{{Claim: "db"}, {Claim: "logs", AcceptSourceChange: true}, {Claim: "cache"}}
	pod := kube.BatchSyncPod(kube.BatchSyncPodOptions{SyncPodOptions: batchSyncOptions, Claims: claims, OneMover: true})

	claimOf := claimsByVolume(pod)
	require.Len(t, pod.Spec.Containers, 1, "one container: the kubelet starts a pod's containers one after another")
	c := pod.Spec.Containers[0]
	assert.Equal(t, kube.BatchMoversContainer, c.Name)
	mountedAt := map[string]string{} // path → claim
	for _, m := range c.VolumeMounts {
		if claim, ok := claimOf[m.Name]; ok {
			assert.False(t, m.ReadOnly, claim)
			mountedAt[m.MountPath] = claim
		}
	}
	require.Len(t, mountedAt, len(claims), "every claim mounted at a path of its own")
	filled, accepted := map[string]string{}, map[string]bool{} // module → claim
	args := c.Command[1:]
	for i := 0; i < len(args); i += 2 {
		switch args[i] {
		case "--claim":
			module, dir, ok := strings.Cut(args[i+1], "=")
			require.True(t, ok, args[i+1])
			filled[module] = mountedAt[dir]
		case "--accept-source-change-for":
			accepted[args[i+1]] = true
		default:
			t.Fatalf("unexpected flag %q in %q", args[i], c.Command)
		}
	}
	for i, claim := range claims {
		assert.Equal(t, claim.Claim, filled[kube.BatchModule(i)], "module %s fills claim %s", kube.BatchModule(i), claim.Claim)
		assert.Equal(t, claim.AcceptSourceChange, accepted[kube.BatchModule(i)], "claim %s's own accepted change", claim.Claim)
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			assert.False(t, v.PersistentVolumeClaim.ReadOnly, v.Name)
		}
	}
	assert.Len(t, claimOf, len(claims))

	single := kube.SyncPod(withDRClaim(batchSyncOptions, claims[0])).Spec.Containers[0]
	assert.Equal(t, single.Env, c.Env, "the single mover's settings; none accepts a change for all")
	assert.Equal(t, single.SecurityContext, c.SecurityContext)
	assert.Equal(t, single.Image, c.Image)
	assert.Equal(t, single.TerminationMessagePolicy, c.TerminationMessagePolicy)
	for _, l := range []struct{ single, batch corev1.ResourceList }{
		{single.Resources.Requests, c.Resources.Requests}, {single.Resources.Limits, c.Resources.Limits},
	} {
		require.Len(t, l.batch, len(l.single))
		for name, q := range l.single {
			got := l.batch[name]
			assert.Equal(t, q.MilliValue()*int64(len(claims)), got.MilliValue(), "%s: once per claim", name)
		}
	}

	batch := withoutClaims(pod)
	batch.Spec.Containers = nil
	want := withoutClaims(kube.SyncPod(withDRClaim(batchSyncOptions, claims[0])))
	want.Spec.Containers = nil
	assert.Equal(t, want, batch, "affinity, security, grace and the key volumes are the single pod's")
}

func TestBatchMoverIndex(t *testing.T) {
	for i := range 25 {
		got, ok := kube.BatchMoverIndex(kube.BatchMoverContainer(i))
		assert.True(t, ok)
		assert.Equal(t, i, got)
	}
	for _, name := range []string{kube.MoverContainer, kube.BatchMoversContainer, "mover-", "mover--1", "mover-01", "mover-x", "mover-1 "} {
		_, ok := kube.BatchMoverIndex(name)
		assert.False(t, ok, name)
	}
}

// A staged batch's mover waits StagedTargetWait for its held mount pod
// (the mover's --target-wait, which parses the value back); otherwise it is
// the mover of a batch that is not staged, which passes no such flag.
func TestBatchSyncPodTargetWait(t *testing.T) {
	claims := []kube.SyncPodClaim{{Claim: "db"}, {Claim: "logs"}}
	plain := kube.BatchSyncPod(kube.BatchSyncPodOptions{SyncPodOptions: batchSyncOptions, Claims: claims, OneMover: true}).Spec.Containers[0]
	c := kube.BatchSyncPod(kube.BatchSyncPodOptions{SyncPodOptions: batchSyncOptions, Claims: claims, TargetWait: kube.StagedTargetWait, OneMover: true}).Spec.Containers[0]
	assert.NotContains(t, plain.Command, "--target-wait")
	require.Equal(t, append(slices.Clone(plain.Command), "--target-wait", "24h0m0s"), c.Command)
	wait, err := time.ParseDuration(c.Command[len(c.Command)-1])
	require.NoError(t, err)
	assert.Equal(t, kube.StagedTargetWait, wait)
	c.Command = plain.Command
	assert.Equal(t, plain, c, "only the command differs")
}

// The names the mount pod, the sync pod and the result readers share.
func TestBatchNames(t *testing.T) {
	assert.Equal(t, "claim-0", kube.BatchModule(0))
	assert.Equal(t, "/data/12", kube.BatchDataPath(12))
	assert.Equal(t, "mover-3", kube.BatchMoverContainer(3))
	assert.NotEqual(t, mountserver.DefaultModule, kube.BatchModule(0), "a batch mover never gets a single pod's volume")
}

func withClaim(o kube.MountPodOptions, claim string) kube.MountPodOptions {
	o.Claim = claim
	return o
}

func withDRClaim(o kube.SyncPodOptions, c kube.SyncPodClaim) kube.SyncPodOptions {
	o.Claim, o.AcceptSourceChange = c.Claim, c.AcceptSourceChange
	return o
}

// claimsByVolume maps each PVC volume of pod to its claim.
func claimsByVolume(pod *corev1.Pod) map[string]string {
	claims := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	return claims
}

// withoutClaims is pod without its PVC volumes, their mounts and the
// commands that name where they are: what a batch pod shares with a
// single one.
func withoutClaims(pod *corev1.Pod) *corev1.Pod {
	pod = pod.DeepCopy()
	claims := claimsByVolume(pod)
	pod.Spec.Volumes = slices.DeleteFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.PersistentVolumeClaim != nil })
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		c.Command = nil
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { _, ok := claims[m.Name]; return ok })
	}
	return pod
}

// envOf is c's environment by name.
func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func pairs(t *testing.T, args []string) [][2]string {
	t.Helper()
	require.Zero(t, len(args)%2, "%q", args)
	var out [][2]string
	for i := 0; i < len(args); i += 2 {
		out = append(out, [2]string{args[i], args[i+1]})
	}
	return out
}

// The batch sync pod that runs of older code ask for (without OneMover)
// runs one mover per DR claim: its own container name,
// its own claim read-write at DataPath, its own module, its own
// acknowledgement and termination message; otherwise each mover is the
// single sync pod's.
func TestBatchSyncPodWithAMoverPerClaim(t *testing.T) {
	claims := []kube.SyncPodClaim{{Claim: "db"}, {Claim: "logs", AcceptSourceChange: true}, {Claim: "cache"}}
	pod := kube.BatchSyncPod(kube.BatchSyncPodOptions{SyncPodOptions: batchSyncOptions, Claims: claims})

	claimOf := claimsByVolume(pod)
	require.Len(t, pod.Spec.Containers, len(claims))
	for i, c := range pod.Spec.Containers {
		assert.Equal(t, kube.BatchMoverContainer(i), c.Name)
		env := envOf(c)
		assert.Equal(t, kube.BatchModule(i), env["DRSYNCER_RSYNC_MODULE"])
		var data []corev1.VolumeMount
		for _, m := range c.VolumeMounts {
			if _, ok := claimOf[m.Name]; ok {
				data = append(data, m)
			}
		}
		require.Len(t, data, 1, "%s mounts its own claim and no other", c.Name)
		assert.Equal(t, claims[i].Claim, claimOf[data[0].Name])
		assert.Equal(t, kube.DataPath, data[0].MountPath)
		assert.False(t, data[0].ReadOnly)
		assert.Empty(t, c.TerminationMessagePath, "the default path is each container's own file")

		single := kube.SyncPod(withDRClaim(batchSyncOptions, claims[i]))
		want := single.Spec.Containers[0]
		want.Name = c.Name
		want.VolumeMounts = slices.Clone(want.VolumeMounts)
		want.VolumeMounts[0].Name = data[0].Name
		want.Env = append(slices.Clone(want.Env), corev1.EnvVar{Name: "DRSYNCER_RSYNC_MODULE", Value: kube.BatchModule(i)})
		assert.Equal(t, want, c, "mover %d is the single pod's mover of claim %s", i, claims[i].Claim)
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			assert.False(t, v.PersistentVolumeClaim.ReadOnly, v.Name)
		}
	}
	assert.Len(t, claimOf, len(claims))

	single := kube.SyncPod(withDRClaim(batchSyncOptions, claims[0]))
	batch := withoutClaims(pod)
	batch.Spec.Containers = nil
	want := withoutClaims(single)
	want.Spec.Containers = nil
	assert.Equal(t, want, batch, "affinity, security, grace and the key volumes are the single pod's")
}

// A staged batch's movers wait StagedTargetWait for their held mount pod
// (the mover's --target-wait, which parses the value back); otherwise each
// is the mover of a batch that is not staged, which passes no such flag.
func TestBatchSyncPodWithAMoverPerClaimTargetWait(t *testing.T) {
	claims := []kube.SyncPodClaim{{Claim: "db"}, {Claim: "logs"}}
	plain := kube.BatchSyncPod(kube.BatchSyncPodOptions{SyncPodOptions: batchSyncOptions, Claims: claims})
	staged := kube.BatchSyncPod(kube.BatchSyncPodOptions{SyncPodOptions: batchSyncOptions, Claims: claims, TargetWait: kube.StagedTargetWait})
	require.Len(t, staged.Spec.Containers, len(claims))
	for i, c := range staged.Spec.Containers {
		p := plain.Spec.Containers[i]
		assert.NotContains(t, p.Command, "--target-wait", p.Name)
		require.Equal(t, append(slices.Clone(p.Command), "--target-wait", "24h0m0s"), c.Command, c.Name)
		wait, err := time.ParseDuration(c.Command[len(c.Command)-1])
		require.NoError(t, err)
		assert.Equal(t, kube.StagedTargetWait, wait)
		c.Command = p.Command
		assert.Equal(t, p, c, "only the command differs")
	}
}
