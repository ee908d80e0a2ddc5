package kube

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// Topology labels a DR node is matched on, most important first.
var topologyLabels = []string{
	corev1.LabelTopologyRegion,
	corev1.LabelTopologyZone,
	corev1.LabelInstanceTypeStable,
}

// NodeChoice is a node picked for a pod, and why, so the workflow result can
// explain placements.
type NodeChoice struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// ChooseSourceNode picks where the mount pod for pvc runs. A ReadWriteOnce
// volume can only be mounted where it is already mounted, so it goes to the
// node of a running pod that uses it; otherwise any ready node that the
// volume's node affinity (pv may be nil) allows.
func ChooseSourceNode(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, pods []corev1.Pod, nodes []corev1.Node) (NodeChoice, error) {
	if !isShared(pvc.Spec.AccessModes) {
		for _, p := range sortedPods(pods) {
			if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning && PodMountsClaim(&p, pvc.Name) {
				return NodeChoice{Node: p.Spec.NodeName, Reason: fmt.Sprintf("ReadWriteOnce volume is mounted by running pod %s on this node", p.Name)}, nil
			}
		}
	}
	var ready []corev1.Node
	for _, n := range readyNodes(nodes, false) {
		if volumeAllowsNode(pv, &n) {
			ready = append(ready, n)
		}
	}
	if len(ready) == 0 {
		return NodeChoice{}, fmt.Errorf("no ready node in the source cluster can mount PVC %s/%s", pvc.Namespace, pvc.Name)
	}
	reason := "volume is not mounted by a running pod; first ready node"
	if isShared(pvc.Spec.AccessModes) {
		reason = "volume is shared (ReadWriteMany/ReadOnlyMany); first ready node"
	}
	return NodeChoice{Node: ready[0].Name, Reason: reason}, nil
}

// ChooseTargetNode picks where the sync pod runs in DR: the ready node whose
// topology best matches the source node (region, then zone, then instance
// type), or else any schedulable ready node.
func ChooseTargetNode(source *corev1.Node, nodes []corev1.Node) (NodeChoice, error) {
	ready := readyNodes(nodes, true)
	if len(ready) == 0 {
		return NodeChoice{}, fmt.Errorf("no schedulable ready node in the DR cluster")
	}
	best, bestScore := ready[0], -1
	for _, n := range ready {
		if score := topologyScore(source, &n); score > bestScore {
			best, bestScore = n, score
		}
	}
	if bestScore <= 0 {
		return NodeChoice{Node: best.Name, Reason: "no node matches the source node's topology labels; first schedulable ready node"}, nil
	}
	var matched []string
	for _, l := range topologyLabels {
		if source != nil && source.Labels[l] != "" && source.Labels[l] == best.Labels[l] {
			matched = append(matched, l+"="+best.Labels[l])
		}
	}
	return NodeChoice{Node: best.Name, Reason: fmt.Sprintf("matches the source node on %v", matched)}, nil
}

// topologyScore weighs region over zone over instance type, so a node in the
// same region always beats one with only the same instance type.
func topologyScore(source, n *corev1.Node) int {
	if source == nil {
		return 0
	}
	score := 0
	for i, l := range topologyLabels {
		if v := source.Labels[l]; v != "" && v == n.Labels[l] {
			score += 1 << (len(topologyLabels) - i)
		}
	}
	return score
}

func readyNodes(nodes []corev1.Node, schedulableOnly bool) []corev1.Node {
	var ready []corev1.Node
	for _, n := range nodes {
		if schedulableOnly && n.Spec.Unschedulable {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, n)
			}
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	return ready
}

func sortedPods(pods []corev1.Pod) []corev1.Pod {
	out := append([]corev1.Pod(nil), pods...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PodMountsClaim is true when p has a volume from the named claim.
func PodMountsClaim(p *corev1.Pod, claim string) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
			return true
		}
	}
	return false
}

func isShared(modes []corev1.PersistentVolumeAccessMode) bool {
	for _, m := range modes {
		if m == corev1.ReadWriteMany || m == corev1.ReadOnlyMany {
			return true
		}
	}
	return false
}

// volumeAllowsNode applies a PersistentVolume's required node affinity, which
// local and hostPath volumes use to pin their data to one node.
func volumeAllowsNode(pv *corev1.PersistentVolume, n *corev1.Node) bool {
	if pv == nil || pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return true
	}
	ok, err := corev1helpers.MatchNodeSelectorTerms(n, pv.Spec.NodeAffinity.Required)
	return err == nil && ok
}

// InternalIP is a node's InternalIP address, or "" when it has none.
func InternalIP(n *corev1.Node) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
