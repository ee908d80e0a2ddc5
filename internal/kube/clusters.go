// Package kube holds narrow wrappers around the clusters dr-syncer talks to.
package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// ErrInvalidClusterRef means a RemoteCluster or its kubeconfig cannot be used
// as specified; retrying will not help until a user fixes it.
var ErrInvalidClusterRef = errors.New("invalid cluster reference")

// Clusters resolves RemoteCluster names to clients of those clusters, reading
// the RemoteClusters and their kubeconfig Secrets from the controller's cluster.
type Clusters struct {
	reader client.Reader

	mu    sync.Mutex
	cache map[types.NamespacedName]cachedCluster
}

type cachedCluster struct {
	kubeconfig []byte
	config     *rest.Config
	clientset  kubernetes.Interface
}

// NewClusters returns a resolver that reads RemoteClusters through reader.
func NewClusters(reader client.Reader) *Clusters {
	return &Clusters{reader: reader, cache: map[types.NamespacedName]cachedCluster{}}
}

// Config returns the REST config of the RemoteCluster namespace/name.
func (c *Clusters) Config(ctx context.Context, namespace, name string) (*rest.Config, error) {
	cl, err := c.resolve(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(cl.config), nil
}

// Clientset returns a typed client of the RemoteCluster namespace/name.
func (c *Clusters) Clientset(ctx context.Context, namespace, name string) (kubernetes.Interface, error) {
	cl, err := c.resolve(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return cl.clientset, nil
}

// resolve reads the kubeconfig each time, so a rotated Secret takes effect,
// but keeps the client while the kubeconfig is unchanged.
func (c *Clusters) resolve(ctx context.Context, namespace, name string) (cachedCluster, error) {
	var rc drv1.RemoteCluster
	if err := c.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &rc); err != nil {
		if apierrors.IsNotFound(err) {
			return cachedCluster{}, fmt.Errorf("%w: RemoteCluster %s/%s not found; create it or fix the name", ErrInvalidClusterRef, namespace, name)
		}
		return cachedCluster{}, fmt.Errorf("get RemoteCluster %s/%s: %w", namespace, name, err)
	}
	kubeconfig, err := c.kubeconfig(ctx, &rc)
	if err != nil {
		return cachedCluster{}, err
	}
	key := types.NamespacedName{Namespace: namespace, Name: name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.cache[key]; ok && string(cached.kubeconfig) == string(kubeconfig) {
		return cached, nil
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return cachedCluster{}, fmt.Errorf("%w: kubeconfig of RemoteCluster %s/%s does not parse: %v", ErrInvalidClusterRef, namespace, name, err)
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return cachedCluster{}, fmt.Errorf("client for RemoteCluster %s/%s: %w", namespace, name, err)
	}
	cached := cachedCluster{kubeconfig: kubeconfig, config: config, clientset: clientset}
	c.cache[key] = cached
	return cached, nil
}

func (c *Clusters) kubeconfig(ctx context.Context, rc *drv1.RemoteCluster) ([]byte, error) {
	ref := rc.Spec.KubeconfigSecretRef
	ns := ref.Namespace
	if ns == "" {
		ns = rc.Namespace
	}
	key := ref.Key
	if key == "" {
		key = "kubeconfig"
	}
	var secret corev1.Secret
	if err := c.reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: kubeconfig Secret %s/%s of RemoteCluster %s not found; create it with the cluster's kubeconfig under key %q",
				ErrInvalidClusterRef, ns, ref.Name, rc.Name, key)
		}
		return nil, fmt.Errorf("get kubeconfig Secret %s/%s: %w", ns, ref.Name, err)
	}
	data, ok := secret.Data[key]
	if !ok || len(data) == 0 {
		return nil, fmt.Errorf("%w: kubeconfig Secret %s/%s has no key %q; set kubeconfigSecretRef.key to the key that holds the kubeconfig",
			ErrInvalidClusterRef, ns, ref.Name, key)
	}
	return data, nil
}
