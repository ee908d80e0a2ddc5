package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/internal/resources"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The RBAC a user installs (`kubectl apply -k deploy/`, plus the Roles
// hack/namespace-rbac prints for a tenant namespace) lets the controller
// and the worker use Secrets in the system namespace and that tenant's
// namespace, and nowhere else: a real API server's RBAC authorizer answers
// SubjectAccessReviews for their ServiceAccounts.
func TestSecretAccessOnlyInTheNamespacesDrSyncerUses(t *testing.T) {
	kubectl := testenv.Binary(t, "kubectl")
	cluster := testenv.StartCluster(t, "rbac")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, cluster.Kubeconfig, 0o600))
	root := testenv.RepoRoot()

	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-k", filepath.Join(root, "deploy")).CombinedOutput()
	require.NoError(t, err, "kubectl apply -k deploy: %s", out)
	testenv.EnsureNamespace(t, cluster.Client, "team-a")
	gen := exec.Command("go", "run", "./hack/namespace-rbac", "team-a", "dr-syncer-system")
	gen.Dir = root
	tenantRBAC, err := gen.Output()
	require.NoError(t, err, "go run ./hack/namespace-rbac")
	apply := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", "-")
	apply.Stdin = bytes.NewReader(tenantRBAC)
	out, err = apply.CombinedOutput()
	require.NoError(t, err, "apply the tenant RBAC: %s", out)

	const system, tenant, unrelated, everywhere = "dr-syncer-system", "team-a", "unrelated", ""
	tests := []struct {
		account   string
		verb      string
		namespace string
		allowed   bool
	}{
		{"dr-syncer-controller", "get", system, true},
		{"dr-syncer-controller", "create", system, true},
		{"dr-syncer-controller", "update", system, true},
		{"dr-syncer-controller", "get", tenant, true},
		{"dr-syncer-controller", "create", tenant, true},
		{"dr-syncer-controller", "get", unrelated, false},
		{"dr-syncer-controller", "list", unrelated, false},
		{"dr-syncer-controller", "create", unrelated, false},
		{"dr-syncer-controller", "update", unrelated, false},
		{"dr-syncer-controller", "list", everywhere, false},
		{"dr-syncer-controller", "watch", everywhere, false},
		{"dr-syncer-controller", "delete", system, false},
		{"dr-syncer-worker", "get", system, true},
		{"dr-syncer-worker", "get", tenant, true},
		{"dr-syncer-worker", "get", unrelated, false},
		{"dr-syncer-worker", "list", unrelated, false},
		{"dr-syncer-worker", "list", everywhere, false},
		{"dr-syncer-worker", "create", system, false},
		{"dr-syncer-worker", "update", tenant, false},
	}
	for _, tc := range tests {
		where := tc.namespace
		if where == "" {
			where = "all namespaces"
		}
		t.Run(fmt.Sprintf("%s %s secrets in %s", tc.account, tc.verb, where), func(t *testing.T) {
			allowed, reason := secretAccess(t, cluster.Client, tc.account, tc.verb, tc.namespace)
			assert.Equal(t, tc.allowed, allowed, "SubjectAccessReview: %s", reason)
		})
	}

	// The ClusterRoles still let the controller do its job on its own kinds everywhere.
	allowed, reason := access(t, cluster.Client, "dr-syncer-controller", authorizationv1.ResourceAttributes{
		Verb: "list", Group: "dr-syncer.io", Resource: "replications"})
	assert.True(t, allowed, "controller lists Replications cluster-wide: %s", reason)
}

// secretAccess asks the API server whether the ServiceAccount account of
// the system namespace may verb Secrets in namespace ("" is every namespace).
func secretAccess(t *testing.T, c client.Client, account, verb, namespace string) (bool, string) {
	return access(t, c, account, authorizationv1.ResourceAttributes{Verb: verb, Resource: "secrets", Namespace: namespace})
}

func access(t *testing.T, c client.Client, account string, attrs authorizationv1.ResourceAttributes) (bool, string) {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:dr-syncer-system:" + account,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:dr-syncer-system", "system:authenticated"},
		ResourceAttributes: &attrs,
	}}
	require.NoError(t, c.Create(context.Background(), sar))
	return sar.Status.Allowed, sar.Status.Reason
}

// deploy/rbac/remotecluster is what a RemoteCluster's kubeconfig identity
// needs in each cluster: it applies, and grants the agent's namespace, the
// replicated kinds in any namespace (the source and DR namespaces are
// whatever the Replications name) and the data plane's pods and PVCs, but
// no RBAC escalation and nothing on nodes.
func TestRemoteClusterRBACApplies(t *testing.T) {
	kubectl := testenv.Binary(t, "kubectl")
	cluster := testenv.StartCluster(t, "remote-rbac")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, cluster.Kubeconfig, 0o600))
	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-k",
		filepath.Join(testenv.RepoRoot(), "deploy", "rbac", "remotecluster")).CombinedOutput()
	require.NoError(t, err, "kubectl apply -k deploy/rbac/remotecluster: %s", out)

	remote := func(attrs authorizationv1.ResourceAttributes) (bool, string) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:dr-syncer:dr-syncer-remote",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:dr-syncer", "system:authenticated"}, ResourceAttributes: &attrs}}
		require.NoError(t, cluster.Client.Create(context.Background(), sar))
		return sar.Status.Allowed, sar.Status.Reason
	}
	for _, tc := range []struct {
		attrs   authorizationv1.ResourceAttributes
		allowed bool
	}{
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Namespace: "shop-dr"}, true},
		{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "pods", Namespace: "shop"}, true},                   // ReleaseBatchPods relabels a staged mount pod
		{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "pods", Namespace: "shop-dr"}, true},                // and ungates its sync pod
		{authorizationv1.ResourceAttributes{Verb: "get", Group: "storage.k8s.io", Resource: "csinodes"}, true},           // ChooseNodes reads attach limits
		{authorizationv1.ResourceAttributes{Verb: "list", Group: "storage.k8s.io", Resource: "volumeattachments"}, true}, // and counts what is attached
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "shop"}, true},
		{authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Subresource: "exec", Namespace: "shop"}, true}, // WebSocket exec (hooks, drill checks)
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "persistentvolumeclaims", Namespace: "shop-dr"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "snapshot.storage.k8s.io", Resource: "volumesnapshots", Namespace: "shop"}, true},
		{authorizationv1.ResourceAttributes{Verb: "patch", Group: "apps", Resource: "daemonsets", Namespace: "dr-syncer"}, true},
		{authorizationv1.ResourceAttributes{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: "shop-dr"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "configmaps", Namespace: "shop-dr"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, true},
		{authorizationv1.ResourceAttributes{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, false},
		{authorizationv1.ResourceAttributes{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "roles", Namespace: "kube-system"}, false},
		{authorizationv1.ResourceAttributes{Verb: "deletecollection", Resource: "configmaps", Namespace: "kube-system"}, false},
		{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "nodes"}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "kube-system"}, false},
	} {
		allowed, reason := remote(tc.attrs)
		assert.Equal(t, tc.allowed, allowed, "%s %s/%s in %q: %s", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Subresource, tc.attrs.Namespace, reason)
	}
	// Every kind "*" selects (the default) is read in any source namespace
	// and written in any DR namespace: a kind the manifest forgot stalls
	// every default Replication.
	for _, k := range resources.Supported() {
		for _, verb := range []string{"list", "get", "create", "patch", "update", "delete"} {
			attrs := authorizationv1.ResourceAttributes{Verb: verb, Group: k.Group, Resource: k.Resource, Namespace: "any-namespace"}
			allowed, reason := remote(attrs)
			assert.True(t, allowed, "%s %s (selected by default) is not granted by deploy/rbac/remotecluster: %s", verb, k.GVR().GroupResource(), reason)
		}
	}
}
