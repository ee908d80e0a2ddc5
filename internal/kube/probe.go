package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterHealth is what Probe saw of a RemoteCluster.
type ClusterHealth struct {
	ServerVersion string
	Nodes         int
	ReadyNodes    int
}

// Probe reaches the RemoteCluster namespace/name and counts its ready nodes.
// An unusable reference wraps ErrInvalidClusterRef.
func (c *Clusters) Probe(ctx context.Context, namespace, name string) (ClusterHealth, error) {
	cs, err := c.Clientset(ctx, namespace, name)
	if err != nil {
		return ClusterHealth{}, err
	}
	version, err := cs.Discovery().ServerVersion()
	if err != nil {
		return ClusterHealth{}, fmt.Errorf("reach cluster %s/%s: %w", namespace, name, err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ClusterHealth{}, fmt.Errorf("list nodes of cluster %s/%s: %w", namespace, name, err)
	}
	health := ClusterHealth{ServerVersion: version.GitVersion, Nodes: len(nodes.Items)}
	for _, n := range nodes.Items {
		if NodeReady(&n) {
			health.ReadyNodes++
		}
	}
	return health, nil
}

// NodeReady reports whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
