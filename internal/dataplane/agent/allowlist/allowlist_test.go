package allowlist

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

var _ agent.NamedTargets = (*AllowList)(nil)

func pod(name, node, ip, role string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app", Labels: kube.OperationLabels("pvc-sync/prod/app/"+name, "run", role)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAllowListFollowsMountPodsOnNode(t *testing.T) {
	client := fake.NewClientset(
		pod("mount-a", "node-1", "10.244.1.5", RoleMount, corev1.PodRunning),
		pod("mount-other-node", "node-2", "10.244.2.5", RoleMount, corev1.PodRunning),
		pod("sync-a", "node-1", "10.244.1.6", "sync", corev1.PodRunning),
		pod("mount-done", "node-1", "10.244.1.7", RoleMount, corev1.PodSucceeded),
	)
	l, err := New(Options{Client: client, Node: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Allowed("10.244.1.5", kube.MountServerPort) {
		t.Error("allowed before the first list")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.Start(ctx)
	if err := l.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		host string
		port uint32
		want bool
	}{
		{"10.244.1.5", kube.MountServerPort, true},
		{"::ffff:10.244.1.5", kube.MountServerPort, true},
		{"10.244.1.5", 22, false},                    // only the rsync port
		{"10.244.2.5", kube.MountServerPort, false},  // mount pod on another node
		{"10.244.1.6", kube.MountServerPort, false},  // not a mount pod
		{"10.244.1.7", kube.MountServerPort, false},  // finished
		{"mount-a.app", kube.MountServerPort, false}, // names are never allowed
		{"10.244.1.5", 70000, false},
	} {
		if got := l.Allowed(tc.host, tc.port); got != tc.want {
			t.Errorf("Allowed(%s, %d) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}

	pods := client.CoreV1().Pods("app")
	if _, err := pods.Create(ctx, pod("mount-b", "node-1", "10.244.1.8", RoleMount, corev1.PodRunning), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new mount pod is allowed", func() bool { return l.Allowed("10.244.1.8", kube.MountServerPort) })

	if err := pods.Delete(ctx, "mount-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted mount pod is refused", func() bool { return !l.Allowed("10.244.1.5", kube.MountServerPort) })

	done := pod("mount-b", "node-1", "10.244.1.8", RoleMount, corev1.PodFailed)
	if _, err := pods.UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a failed mount pod is refused", func() bool { return !l.Allowed("10.244.1.8", kube.MountServerPort) })
	if got := l.Targets(); len(got) != 0 {
		t.Errorf("Targets() = %v, want none", got)
	}
}

func TestLookupTargetResolvesMountPodsOnNodeByName(t *testing.T) {
	client := fake.NewClientset(
		pod("mount-a", "node-1", "", RoleMount, corev1.PodPending),
		pod("mount-other-node", "node-2", "10.244.2.5", RoleMount, corev1.PodRunning),
		pod("sync-a", "node-1", "10.244.1.6", "sync", corev1.PodRunning),
		pod("mount-done", "node-1", "10.244.1.9", RoleMount, corev1.PodSucceeded),
	)
	ctx := context.Background()
	l := startList(t, client)
	for _, tc := range []struct {
		host    string
		pending bool
	}{
		{"app/mount-a", true}, // no IP yet
		{"app/missing", true}, // not listed (yet)
		{"app/sync-a", true},  // other roles are not watched
		// The fake client ignores the watch's field selector, so this one is
		// listed, as a pod moved after the list would be.
		{"app/mount-other-node", false}, // another node's mount pod
		{"app/mount-done", false},       // finished: it will not come back
		{"mount-other-node.app", false}, // DNS-style names are not ours
		{"10.244.2.5", false}, {"app/", false}, {"/mount-a", false}, {"app/mount-a/x", false},
	} {
		addr, ok, pending := l.LookupTarget(tc.host)
		if ok || pending != tc.pending {
			t.Errorf("LookupTarget(%q) = %s, %v, pending %v; want not found, pending %v", tc.host, addr, ok, pending, tc.pending)
		}
	}

	running := pod("mount-a", "node-1", "10.244.1.5", RoleMount, corev1.PodRunning)
	if _, err := client.CoreV1().Pods("app").UpdateStatus(ctx, running, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the mount pod resolves once it has an IP", func() bool {
		addr, ok, _ := l.LookupTarget("app/mount-a")
		return ok && addr.String() == "10.244.1.5"
	})
	if !l.Allowed("10.244.1.5", kube.MountServerPort) {
		t.Error("a resolved name's address is not allowed")
	}
}

// A staged batch's mount pod (kube.RoleMountHeld) is no target until the
// run releases it (relabels it RoleMount): its movers are told "pending"
// and wait. The API server applies the watch's label selector to lists and
// watches alike, so a held pod is never in the store and looks absent. The
// fake client applies it to the list only: a held pod that exists at the
// first list is left out, as on a real server (checked: pending), while one
// created later reaches the store through the unfiltered fake watch, where
// serves still rejects it (checked: not resolved; a real server would not
// deliver it, so its "pending" is not checked).
func TestLookupTargetWaitsForAHeldMountPodUntilItIsReleased(t *testing.T) {
	client := fake.NewClientset(pod("mount-held", "node-1", "10.244.1.5", kube.RoleMountHeld, corev1.PodRunning))
	ctx := context.Background()
	l := startList(t, client)

	addr, ok, pending := l.LookupTarget("app/mount-held")
	if ok || !pending {
		t.Errorf("LookupTarget of a held mount pod = %s, %v, pending %v; want not found, pending", addr, ok, pending)
	}
	if l.Allowed("10.244.1.5", kube.MountServerPort) {
		t.Error("a held mount pod's address is allowed")
	}
	pods := client.CoreV1().Pods("app")
	if _, err := pods.Create(ctx, pod("mount-held-later", "node-1", "10.244.1.6", kube.RoleMountHeld, corev1.PodRunning), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only the fake's unfiltered watch puts it in the store; give it the time.
	time.Sleep(100 * time.Millisecond)
	if addr, ok, _ := l.LookupTarget("app/mount-held-later"); ok {
		t.Errorf("LookupTarget of a mount pod held when it was created = %s, resolved", addr)
	}
	if l.Allowed("10.244.1.6", kube.MountServerPort) {
		t.Error("a held mount pod's address is allowed")
	}

	// The release: ReleaseBatchPods merge-patches the role.
	for name, ip := range map[string]string{"mount-held": "10.244.1.5", "mount-held-later": "10.244.1.6"} {
		patch := []byte(`{"metadata":{"labels":{"` + kube.LabelRole + `":"` + RoleMount + `"}}}`)
		if _, err := pods.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, name+" resolves once released", func() bool {
			addr, ok, _ := l.LookupTarget("app/" + name)
			return ok && addr.String() == ip
		})
		if !l.Allowed(ip, kube.MountServerPort) {
			t.Errorf("released %s's address is not allowed", name)
		}
	}
}

// startList watches node-1's pods until the test ends.
func startList(t *testing.T, client *fake.Clientset) *AllowList {
	t.Helper()
	l, err := New(Options{Client: client, Node: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l.Start(ctx)
	if err := l.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewRequiresNodeAndClient(t *testing.T) {
	if _, err := New(Options{Client: fake.NewClientset()}); err == nil {
		t.Error("New without a node succeeded")
	}
	if _, err := New(Options{Node: "n"}); err == nil {
		t.Error("New without a client succeeded")
	}
}
