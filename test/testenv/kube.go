package testenv

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Cluster is a running kube-apiserver (with etcd) that has dr-syncer's CRDs.
type Cluster struct {
	Name   string
	Config *rest.Config
	Client client.Client
	// Kubeconfig is an admin kubeconfig for the cluster.
	Kubeconfig []byte
}

// startAttempts bounds the starts of one API server or Temporal server. envtest takes free
// ports by binding and releasing them; another process can take one before
// etcd or kube-apiserver binds it, and envtest's own retries reuse the taken
// port. A fresh environment draws fresh ports.
const startAttempts = 3

// StartCluster starts one API server and stops it when the test ends.
func StartCluster(t testing.TB, name string) *Cluster {
	t.Helper()
	Binary(t, "kube-apiserver")
	Binary(t, "etcd")
	var env *envtest.Environment
	var cfg *rest.Config
	for attempt := 1; ; attempt++ {
		var err error
		var output syncBuffer
		env = &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "deploy", "crd")},
			ErrorIfCRDPathMissing: true,
			BinaryAssetsDirectory: BinDir(),
			ControlPlane: envtest.ControlPlane{
				APIServer: &envtest.APIServer{Out: &output, Err: &output},
				Etcd:      &envtest.Etcd{Out: &output, Err: &output},
			},
		}
		if cfg, err = env.Start(); err == nil {
			break
		}
		_ = env.Stop()
		if attempt == startAttempts {
			t.Fatalf("start %s kube-apiserver (%d attempts): %v; last output of etcd and kube-apiserver:\n%s", name, attempt, err, output.Tail(4096))
		}
		t.Logf("start %s kube-apiserver, attempt %d: %v; trying again with new ports; its output ended:\n%s", name, attempt, err, output.Tail(2048))
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop %s kube-apiserver: %v", name, err)
		}
	})
	user, err := env.AddUser(envtest.User{Name: "dr-syncer-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("add admin user to %s: %v", name, err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatalf("kubeconfig of %s: %v", name, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatalf("client of %s: %v", name, err)
	}
	return &Cluster{Name: name, Config: cfg, Client: c, Kubeconfig: kubeconfig}
}

// RegisterRemoteCluster stores target's kubeconfig in a Secret on c and
// creates a RemoteCluster named target.Name in namespace that points at it,
// as a user would.
func (c *Cluster) RegisterRemoteCluster(t testing.TB, namespace string, target *Cluster) *drv1.RemoteCluster {
	t.Helper()
	ctx := context.Background()
	EnsureNamespace(t, c.Client, namespace)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: target.Name + "-kubeconfig"},
		Data:       map[string][]byte{"kubeconfig": target.Kubeconfig},
	}
	if err := c.Client.Create(ctx, secret); err != nil {
		t.Fatalf("create kubeconfig Secret for %s: %v", target.Name, err)
	}
	rc := &drv1.RemoteCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: target.Name},
		Spec:       drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: secret.Name, Key: "kubeconfig"}},
	}
	if err := c.Client.Create(ctx, rc); err != nil {
		t.Fatalf("create RemoteCluster %s: %v", target.Name, err)
	}
	return rc
}

// EnsureNamespace creates namespace unless it exists.
func EnsureNamespace(t testing.TB, c client.Client, namespace string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := c.Create(context.Background(), ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("create namespace %s: %v", namespace, err)
	}
}

// syncBuffer keeps the recent output of processes envtest runs; they write
// from their own goroutines for as long as the test runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const syncBufferKeep = 64 << 10

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*syncBufferKeep {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-syncBufferKeep:]...)
	}
	return len(p), nil
}

// Tail is the last n bytes written.
func (b *syncBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf[max(0, len(b.buf)-n):])
}
