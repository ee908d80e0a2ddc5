package activities

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClusterResolver turns a RemoteCluster reference into clients of that
// cluster; *kube.Clusters is the real one.
type ClusterResolver interface {
	Clientset(ctx context.Context, namespace, name string) (kubernetes.Interface, error)
	// Config is for clients Clientset does not cover, such as the dynamic client.
	Config(ctx context.Context, namespace, name string) (*rest.Config, error)
}

// ClusterActivities talk to RemoteClusters as a whole.
type ClusterActivities struct {
	Clusters ClusterResolver
}

// ClusterRef names a RemoteCluster.
type ClusterRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ClusterHealth is what ProbeCluster saw.
type ClusterHealth struct {
	Cluster       ClusterRef `json:"cluster"`
	ServerVersion string     `json:"serverVersion"`
	Nodes         int        `json:"nodes"`
	ReadyNodes    int        `json:"readyNodes"`
}

// ProbeCluster reaches a RemoteCluster from the worker, which is where every
// other activity will reach it from, and counts its ready nodes.
func (a *ClusterActivities) ProbeCluster(ctx context.Context, ref ClusterRef) (ClusterHealth, error) {
	cs, err := a.Clusters.Clientset(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return ClusterHealth{}, classify(err)
	}
	version, err := cs.Discovery().ServerVersion()
	if err != nil {
		return ClusterHealth{}, fmt.Errorf("reach cluster %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ClusterHealth{}, fmt.Errorf("list nodes of cluster %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	health := ClusterHealth{Cluster: ref, ServerVersion: version.GitVersion, Nodes: len(nodes.Items)}
	for _, n := range nodes.Items {
		if nodeReady(&n) {
			health.ReadyNodes++
		}
	}
	return health, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
