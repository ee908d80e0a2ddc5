// Package lab attaches tests to the local two-cluster lab that `make lab-up` brings
// up (hack/lab). It reads the lab's state folder (.lab/ in the repository root by
// default) and gives each cluster's kubeconfig path, *rest.Config, node IP and CIDRs.
//
// A test that needs the lab calls Attach; if the lab is not up the test FAILS with
// "lab not up: run `make lab-up`" — it never skips.
package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Default cluster names of `make lab-up`.
const (
	Prod = "prod"
	DR   = "dr"
)

// Image references of the images the lab builds and imports into every node.
const (
	ImagePause      = "localhost/dr-syncer/pause:lab"
	ImageBase       = "localhost/dr-syncer/base:lab"
	ImageDataplane  = "localhost/dr-syncer/dataplane:lab"
	ImageController = "localhost/dr-syncer/controller:lab"
	ImageWorker     = "localhost/dr-syncer/worker:lab"
)

// Cluster is one lab cluster, as lab-up described it in .lab/<name>/cluster.env.
type Cluster struct {
	Name           string
	Index          int
	Node           string // the single node's name
	NodeIP         string // reachable from the host and from every lab pod
	PodCIDR        string
	ServiceCIDR    string
	APIServer      string // https://<node IP>:6443
	Kubeconfig     string // admin kubeconfig: .lab/<name>/kubeconfig
	NetNS          string // the node's network namespace (/run/netns/<NetNS>)
	ContainerdSock string
	VolumesDir     string // where the hostPath provisioner puts volumes
	Config         *rest.Config
}

// Lab is the set of lab clusters, in LAB_CLUSTERS order.
type Lab struct {
	Dir      string
	Clusters []*Cluster
}

// Cluster returns the named cluster, or nil.
func (l *Lab) Cluster(name string) *Cluster {
	for _, c := range l.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Dir is the lab's state folder: $LAB_DIR, else .lab in the repository root (found
// by walking up from the working directory to this module's go.mod).
func Dir() (string, error) {
	if d := os.Getenv("LAB_DIR"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".lab"), nil
}

// RepoRoot finds the repository root from the working directory.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/dr-syncer/dr-syncer\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no github.com/dr-syncer/dr-syncer go.mod above %s", wd)
		}
	}
}

// Load reads the lab state in dir. It does not contact the clusters.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "clusters"))
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	l := &Lab{Dir: dir}
	for _, name := range strings.Fields(string(b)) {
		c, err := loadCluster(filepath.Join(dir, name, "cluster.env"))
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		l.Clusters = append(l.Clusters, c)
	}
	if len(l.Clusters) == 0 {
		return nil, errors.New("no clusters in lab state")
	}
	return l, nil
}

func loadCluster(path string) (*Cluster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	idx, _ := strconv.Atoi(env["INDEX"])
	c := &Cluster{
		Name: env["NAME"], Index: idx, Node: env["NODE"], NodeIP: env["NODE_IP"],
		PodCIDR: env["POD_CIDR"], ServiceCIDR: env["SERVICE_CIDR"], APIServer: env["APISERVER"],
		Kubeconfig: env["KUBECONFIG"], NetNS: env["NETNS"], ContainerdSock: env["CONTAINERD_SOCK"],
		VolumesDir: env["VOLUMES_DIR"],
	}
	if c.Name == "" || c.Kubeconfig == "" {
		return nil, fmt.Errorf("%s: NAME or KUBECONFIG missing", path)
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return c, nil
}

// Ping checks that the cluster's API server answers /readyz.
func (c *Cluster) Ping(ctx context.Context) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	_, err = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("%s /readyz: %w", c.APIServer, err)
	}
	return nil
}

// LogDir is the folder with the cluster's component logs (kubelet.log, ...).
func (c *Cluster) LogDir() string { return filepath.Join(filepath.Dir(c.Kubeconfig), "logs") }

// Clientset returns a typed client for the cluster.
func (c *Cluster) Clientset() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(c.Config)
}

// Kubectl returns a kubectl command against the cluster.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, KubectlPath(), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
}

// BinDir is where `make tools` puts kubectl and the other Kubernetes binaries.
func BinDir() string {
	if d := os.Getenv("DRSYNCER_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("DRSYNCER_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = filepath.Join(os.Getenv("HOME"), ".cache")
		}
		cache = filepath.Join(base, "dr-syncer")
	}
	return filepath.Join(cache, "bin")
}

// KubectlPath is the kubectl of `make tools`, else the one on PATH.
func KubectlPath() string {
	p := filepath.Join(BinDir(), "kubectl")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	return p
}

// Attach loads the lab and checks that every cluster answers; otherwise the test
// fails with how to bring the lab up.
func Attach(t testing.TB) *Lab {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("lab not up: run `make lab-up` (%v)", err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatalf("lab not up: run `make lab-up` (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range l.Clusters {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("lab not up: run `make lab-up` (cluster %s: %v; logs in %s)", c.Name, err, c.LogDir())
		}
	}
	return l
}

// MustCluster returns the named cluster or fails the test.
func (l *Lab) MustCluster(t testing.TB, name string) *Cluster {
	t.Helper()
	c := l.Cluster(name)
	if c == nil {
		t.Fatalf("lab has no cluster %q (clusters in %s/clusters); bring it up with LAB_CLUSTERS", name, l.Dir)
	}
	return c
}
