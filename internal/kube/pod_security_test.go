package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Every working pod runs under the runtime's seccomp profile, cannot gain
// privileges, keeps only the capabilities its program needs and is bounded
// in CPU and memory.
func TestWorkingPodsAreConfined(t *testing.T) {
	res, err := kube.DataPodResources("200m", "300Mi", "1", "1Gi")
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		caps []corev1.Capability
		res  corev1.ResourceRequirements
	}{
		{"mount", kube.MountPod(kube.MountPodOptions{Name: "m", Namespace: "app", Claim: "data", Image: "img", Resources: res}),
			[]corev1.Capability{"DAC_READ_SEARCH", "FOWNER", "SYS_CHROOT", "SETGID"}, res},
		{"sync", kube.SyncPod(kube.SyncPodOptions{Name: "s", Namespace: "app", Claim: "data", Image: "img", Resources: res}),
			[]corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "MKNOD", "SETFCAP"}, res},
		{"mount without resources", kube.MountPod(kube.MountPodOptions{Name: "m", Namespace: "app", Claim: "data", Image: "img"}),
			[]corev1.Capability{"DAC_READ_SEARCH", "FOWNER", "SYS_CHROOT", "SETGID"}, kube.DefaultDataPodResources()},
		{"check", kube.ConnectivityPod(kube.ConnectivityPodOptions{Name: "c", Namespace: "x", Image: "img", Timeout: "5s"}), nil, corev1.ResourceRequirements{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.pod.Spec
			require.NotNil(t, spec.SecurityContext)
			assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type)
			require.Len(t, spec.Containers, 1)
			c := spec.Containers[0]
			sc := c.SecurityContext
			require.NotNil(t, sc)
			assert.Equal(t, false, *sc.AllowPrivilegeEscalation)
			assert.Equal(t, false, *sc.Privileged)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			assert.ElementsMatch(t, tc.caps, sc.Capabilities.Add)
			assert.NotContains(t, sc.Capabilities.Add, corev1.Capability("SYS_ADMIN"))
			if tc.name == "check" {
				assert.False(t, c.Resources.Limits.Memory().IsZero(), "the check pod is bounded too")
				assert.False(t, c.Resources.Limits.Cpu().IsZero())
				return
			}
			assert.Equal(t, tc.res, c.Resources)
		})
	}
}

func TestDataPodResourcesRefusesWhatTheAPIServerWould(t *testing.T) {
	r, err := kube.DataPodResources("100m", "", "", "2Gi")
	require.NoError(t, err)
	assert.Equal(t, resource.MustParse("100m"), r.Requests[corev1.ResourceCPU])
	assert.Equal(t, resource.MustParse("2Gi"), r.Limits[corev1.ResourceMemory])
	assert.NotContains(t, r.Limits, corev1.ResourceCPU, "an empty value leaves that limit out")

	_, err = kube.DataPodResources("lots", "", "", "")
	assert.ErrorContains(t, err, `--data-pod-cpu-request "lots"`)
	_, err = kube.DataPodResources("", "1Gi", "", "512Mi")
	assert.ErrorContains(t, err, "memory limit 512Mi is below its request 1Gi")
	_, err = kube.DataPodResources("", "", "-1", "")
	assert.ErrorContains(t, err, "--data-pod-cpu-limit")
}

// The mount pod's rsync daemon admits only the addresses it is given.
func TestMountPodHostsAllow(t *testing.T) {
	env := func(p *corev1.Pod) map[string]string {
		out := map[string]string{}
		for _, e := range p.Spec.Containers[0].Env {
			out[e.Name] = e.Value
		}
		return out
	}
	open := kube.MountPod(kube.MountPodOptions{Name: "m", Namespace: "app", Claim: "data"})
	assert.NotContains(t, env(open), "DRSYNCER_HOSTS_ALLOW")
	closed := kube.MountPod(kube.MountPodOptions{Name: "m", Namespace: "app", Claim: "data", HostsAllow: []string{"10.244.1.7", "fd00::7"}})
	assert.Equal(t, "10.244.1.7,fd00::7", env(closed)["DRSYNCER_HOSTS_ALLOW"])
}

func TestAgentSourceAddresses(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec:       corev1.NodeSpec{PodCIDRs: []string{"10.244.1.0/24", "fd00:1::/64"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "192.168.0.11"}, {Type: corev1.NodeHostName, Address: "n1"},
		}},
	}
	agent := func(node string, hostNetwork bool, ips ...string) corev1.Pod {
		p := corev1.Pod{Spec: corev1.PodSpec{NodeName: node, HostNetwork: hostNetwork}}
		for _, ip := range ips {
			p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
		}
		if len(ips) > 0 {
			p.Status.PodIP = ips[0]
		}
		return p
	}
	gone := agent("n1", false, "10.244.1.99")
	gone.DeletionTimestamp = &metav1.Time{}

	got, err := kube.AgentSourceAddresses([]corev1.Pod{agent("n2", false, "10.244.2.5"), agent("n1", false, "10.244.1.5"), gone}, node)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.244.1.5"}, got, "in the pod network: exactly the agent's own pod IP on this node")

	got, err = kube.AgentSourceAddresses([]corev1.Pod{agent("n1", true, "192.168.0.11")}, node)
	require.NoError(t, err)
	assert.Equal(t, []string{"192.168.0.11", "10.244.1.1", "fd00:1::1"}, got,
		"on the host network: the node's addresses and its pod CIDRs' bridge addresses, never the whole CIDR")

	_, err = kube.AgentSourceAddresses([]corev1.Pod{agent("n1", false), agent("n2", false, "10.244.2.5")}, node)
	assert.ErrorContains(t, err, "no dr-syncer agent pod (app.kubernetes.io/name=dr-syncer-agent) with an address on node n1")
}
