// Command namespace-rbac prints the Roles and RoleBindings that let the
// controller and worker use Secrets in more namespaces than the system one:
// the namespaces that hold Replications, ClusterMappings and RemoteClusters.
//
//	go run ./hack/namespace-rbac team-a team-b | kubectl apply -f -
//
// The rules are not written here: each Role is the Secret rules of the Role
// controller-gen generates for the system namespace (deploy/rbac/*/role.yaml,
// from the +kubebuilder:rbac markers), so a marker change reaches every
// namespace on the next run. The bindings name the ServiceAccounts of
// deploy/manager, in the system namespace.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// components are the ServiceAccounts, Roles and generated files, one per binary.
var components = []string{"dr-syncer-controller", "dr-syncer-worker"}

func main() {
	fs := flag.NewFlagSet("namespace-rbac", flag.ExitOnError)
	root := fs.String("root", ".", "the repository, whose deploy/rbac holds the generated Roles")
	system := fs.String("system-namespace", drv1.DefaultSystemNamespace, "where the controller and worker run (their ServiceAccounts)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: namespace-rbac [flags] NAMESPACE...\n\nPrints a Role and RoleBinding per namespace for the controller and the worker: their Secret access there.")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, *root, *system, fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "namespace-rbac:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, root, system string, namespaces []string) error {
	for _, name := range components {
		file := filepath.Join(root, "deploy", "rbac", name[len("dr-syncer-"):], "role.yaml")
		rules, err := secretRules(file, name, system)
		if err != nil {
			return err
		}
		for _, ns := range namespaces {
			if ns == system {
				continue // deploy/ binds the generated Role there
			}
			if err := write(out, objects(name, ns, system, rules)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// secretRules reads the Secret rules of the Role name in namespace system
// from a file controller-gen wrote.
func secretRules(file, name, system string) ([]rbacv1.PolicyRule, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read generated RBAC (run `make generate`): %w", err)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var role rbacv1.Role
		if err := yaml.Unmarshal(doc, &role); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if role.Kind != "Role" || role.Name != name || role.Namespace != system {
			continue
		}
		var rules []rbacv1.PolicyRule
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
				rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: r.Verbs})
			}
		}
		if len(rules) == 0 {
			return nil, fmt.Errorf("%s: Role %s/%s grants no Secret access", file, system, name)
		}
		return rules, nil
	}
	return nil, fmt.Errorf("%s has no Role %s in namespace %s; is --system-namespace what the markers say?", file, name, system)
}

// objects are the Role and RoleBinding of component name in namespace ns.
func objects(name, ns, system string, rules []rbacv1.PolicyRule) []any {
	meta := metav1.ObjectMeta{Name: name, Namespace: ns,
		Labels: map[string]string{"app.kubernetes.io/name": "dr-syncer", "app.kubernetes.io/component": name[len("dr-syncer-"):]}}
	return []any{
		rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta, Rules: rules},
		rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta,
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: system}}},
	}
}

func write(out io.Writer, objs ...any) error {
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}
