// Package kube holds narrow wrappers around the clusters dr-syncer talks to.
package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
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
	policy KubeconfigPolicy
	// reuse is how long a resolved cluster serves without reading its
	// RemoteCluster and Secret again (ReuseFor); 0 reads them every time.
	reuse time.Duration

	mu    sync.Mutex
	cache map[types.NamespacedName]cachedCluster
}

type cachedCluster struct {
	readAt     time.Time // when its RemoteCluster and Secret were last read
	kubeconfig []byte
	config     *rest.Config
	clientset  kubernetes.Interface
	snapshots  snapclient.Interface
}

// NewClusters returns a resolver that reads RemoteClusters through reader
// and loads the kubeconfigs policy accepts.
func NewClusters(reader client.Reader, policy KubeconfigPolicy) *Clusters {
	return &Clusters{reader: reader, policy: policy, cache: map[types.NamespacedName]cachedCluster{}}
}

// ClusterReuse is how long the worker's steps use a RemoteCluster's
// client without reading the RemoteCluster and its Secret again. Read on
// every step, they were about 40% of the worker's Kubernetes API
// requests: two reads of the control cluster for each of the 20-odd steps
// of every PVC sync. A rotated kubeconfig or a deleted RemoteCluster
// reaches new steps at most this much later (a running step keeps the
// client it started with, as it always did).
const ClusterReuse = 5 * time.Second

// ReuseFor makes c serve a resolved cluster for d before it reads the
// RemoteCluster and its Secret again; it returns c.
func (c *Clusters) ReuseFor(d time.Duration) *Clusters {
	c.reuse = d
	return c
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

// Snapshots returns a client of the VolumeSnapshot API of the RemoteCluster
// namespace/name.
func (c *Clusters) Snapshots(ctx context.Context, namespace, name string) (snapclient.Interface, error) {
	cl, err := c.resolve(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return cl.snapshots, nil
}

// resolve reads the kubeconfig each time, or once per reuse, so a rotated
// Secret takes effect, but keeps the client while the kubeconfig is
// unchanged.
func (c *Clusters) resolve(ctx context.Context, namespace, name string) (cachedCluster, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	c.mu.Lock()
	cached, ok := c.cache[key]
	c.mu.Unlock()
	if ok && time.Since(cached.readAt) < c.reuse {
		return cached, nil
	}
	readAt := time.Now()
	var rc drv1.RemoteCluster
	if err := c.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &rc); err != nil {
		if apierrors.IsNotFound(err) {
			return cachedCluster{}, fmt.Errorf("%w: RemoteCluster %s/%s not found; create it or fix the name", ErrInvalidClusterRef, namespace, name)
		}
		return cachedCluster{}, fmt.Errorf("get RemoteCluster %s/%s: %w", namespace, name, err)
	}
	kubeconfig, err := ReadKubeconfig(ctx, c.reader, &rc, c.policy)
	if err != nil {
		return cachedCluster{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	known, ok := c.cache[key]
	switch {
	case ok && known.readAt.After(readAt):
		return known, nil // a step that read later stored it: it is the fresher
	case ok && string(known.kubeconfig) == string(kubeconfig):
		known.readAt = readAt
		c.cache[key] = known
		return known, nil
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return cachedCluster{}, fmt.Errorf("%w: kubeconfig of RemoteCluster %s/%s does not parse: %v", ErrInvalidClusterRef, namespace, name, err)
	}
	WithClientLimits(config)
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return cachedCluster{}, fmt.Errorf("client for RemoteCluster %s/%s: %w", namespace, name, err)
	}
	snapshots, err := snapclient.NewForConfig(config)
	if err != nil {
		return cachedCluster{}, fmt.Errorf("snapshot client for RemoteCluster %s/%s: %w", namespace, name, err)
	}
	cached = cachedCluster{readAt: readAt, kubeconfig: kubeconfig, config: config, clientset: clientset, snapshots: snapshots}
	c.cache[key] = cached
	return cached, nil
}

// ReadKubeconfig reads a RemoteCluster's kubeconfig from its Secret. A
// Secret outside the namespaces the policy allows (never read), a
// missing Secret or key, or a kubeconfig the policy refuses, wraps
// ErrInvalidClusterRef, with a message that says what to fix. The
// controller checks references with it and the worker connects with it,
// so both say the same thing.
func ReadKubeconfig(ctx context.Context, r client.Reader, rc *drv1.RemoteCluster, policy KubeconfigPolicy) ([]byte, error) {
	ref := rc.Spec.KubeconfigSecretRef
	if p := drv1.ForeignReferenceProblem("RemoteCluster", rc.Namespace, rc.Name, "spec.kubeconfigSecretRef.namespace", ref.Namespace, policy.SystemNamespace); p != "" {
		return nil, &ClusterRefProblem{p}
	}
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if key.Namespace == "" {
		key.Namespace = rc.Namespace
	}
	dataKey := ref.Key
	if dataKey == "" {
		dataKey = drv1.DefaultKubeconfigKey
	}
	var secret corev1.Secret
	if err := r.Get(ctx, key, &secret); apierrors.IsNotFound(err) {
		return nil, &ClusterRefProblem{fmt.Sprintf("Secret %s with the kubeconfig of RemoteCluster %s/%s not found: create it or fix spec.kubeconfigSecretRef", key, rc.Namespace, rc.Name)}
	} else if err != nil {
		return nil, fmt.Errorf("get kubeconfig Secret %s: %w", key, err)
	}
	if len(secret.Data[dataKey]) == 0 {
		return nil, &ClusterRefProblem{fmt.Sprintf("Secret %s has no key %q with the kubeconfig of RemoteCluster %s/%s: add it or fix spec.kubeconfigSecretRef.key", key, dataKey, rc.Namespace, rc.Name)}
	}
	if problem := policy.Problem(secret.Data[dataKey]); problem != "" {
		return nil, &ClusterRefProblem{fmt.Sprintf("kubeconfig of RemoteCluster %s/%s (Secret %s, key %q): %s", rc.Namespace, rc.Name, key, dataKey, problem)}
	}
	return secret.Data[dataKey], nil
}

// ClusterRefProblem is a RemoteCluster reference a user must fix; it is
// ErrInvalidClusterRef, and its message says what to fix.
type ClusterRefProblem struct{ Message string }

func (p *ClusterRefProblem) Error() string { return p.Message }

// Is makes a ClusterRefProblem match ErrInvalidClusterRef.
func (p *ClusterRefProblem) Is(target error) bool { return target == ErrInvalidClusterRef }
