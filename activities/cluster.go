package activities

import (
	"context"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClusterResolver turns a RemoteCluster reference into clients of that
// cluster; *kube.Clusters is the real one.
type ClusterResolver interface {
	Clientset(ctx context.Context, namespace, name string) (kubernetes.Interface, error)
	// Config is for clients Clientset does not cover, such as the dynamic client.
	Config(ctx context.Context, namespace, name string) (*rest.Config, error)
	// Snapshots is a client of the cluster's VolumeSnapshot API.
	Snapshots(ctx context.Context, namespace, name string) (snapclient.Interface, error)
}
