package kube

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// AgentSelector selects the agent's pods in the agent namespace (the
// labels internal/agentdeploy gives them).
const AgentSelector = "app.kubernetes.io/name=dr-syncer-agent"

// AgentSourceAddresses are the addresses from which the agents on node
// connect to a mount pod on that node: what the pod's rsync daemon allows.
//
// An agent in the pod network connects from its pod IP. An agent on the
// host network connects from whatever source address the kernel picks for
// the route to the pod, which the API does not record: the node's own
// addresses (routed CNIs such as Calico) or the bridge's address, by
// convention the first address of the node's pod CIDR (bridge, flannel).
// Both are allowed; other pods on the node are not.
//
// Every agent pod on the node counts, so a rollout that replaces the agent
// mid-sync keeps working as long as the mount pod was made after the new
// pod got its address. No agent pod with an address yet is an error: the
// caller retries until the agent is up.
func AgentSourceAddresses(agents []corev1.Pod, node *corev1.Node) ([]string, error) {
	var out []string
	add := func(a string) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	hostNetwork := false
	for i := range agents {
		p := &agents[i]
		if p.Spec.NodeName != node.Name || p.DeletionTimestamp != nil {
			continue
		}
		if p.Spec.HostNetwork {
			hostNetwork = true
			continue
		}
		for _, ip := range p.Status.PodIPs {
			add(ip.IP)
		}
		add(p.Status.PodIP)
	}
	if hostNetwork {
		for _, a := range node.Status.Addresses {
			if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
				add(a.Address)
			}
		}
		cidrs := node.Spec.PodCIDRs
		if len(cidrs) == 0 && node.Spec.PodCIDR != "" {
			cidrs = []string{node.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil {
				add(p.Masked().Addr().Next().String())
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no dr-syncer agent pod (%s) with an address on node %s; "+
			"the mount pod would admit no one: check the agent DaemonSet", AgentSelector, node.Name)
	}
	return out, nil
}
