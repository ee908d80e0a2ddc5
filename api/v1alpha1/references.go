package v1alpha1

import "fmt"

// DefaultSystemNamespace is the namespace the controller and worker run in
// when deployed with deploy/ (deploy/manager/namespace.yaml), and so the one
// namespace besides its own that a dr-syncer object may refer into.
const DefaultSystemNamespace = "dr-syncer-system"

// ForeignReferenceProblem says why a reference field of the object kind
// namespace/name may not point into namespace target; "" when it may.
//
// The namespace is the tenancy boundary: whoever may create a Replication,
// ClusterMapping or RemoteCluster in one namespace must not make the
// controller or worker read, or write, a Secret or use a mapping of
// another. So a reference may point only into the object's own namespace or
// into system, where the operator keeps shared clusters and keys; an empty
// target is the object's own namespace. CRD validation rules cannot see
// metadata.namespace, so this is checked wherever references are followed.
func ForeignReferenceProblem(kind, namespace, name, field, target, system string) string {
	if target == "" || target == namespace || (system != "" && target == system) {
		return ""
	}
	allowed := "its own namespace " + namespace
	if system != "" {
		allowed += " or the dr-syncer system namespace " + system
	}
	return fmt.Sprintf("%s %s/%s: %s points into namespace %s, but a reference may only point into %s; "+
		"move the referenced object there and fix %s", kind, namespace, name, field, target, allowed, field)
}

// ReferenceProblem says which of the RemoteCluster's references points
// outside the namespaces it may use (see ForeignReferenceProblem); "" when
// none does.
func (rc *RemoteCluster) ReferenceProblem(system string) string {
	p := ForeignReferenceProblem("RemoteCluster", rc.Namespace, rc.Name, "spec.kubeconfigSecretRef.namespace",
		rc.Spec.KubeconfigSecretRef.Namespace, system)
	if p == "" && rc.Spec.PVCSync != nil && rc.Spec.PVCSync.SSH != nil && rc.Spec.PVCSync.SSH.KeySecretRef != nil {
		p = ForeignReferenceProblem("RemoteCluster", rc.Namespace, rc.Name, "spec.pvcSync.ssh.keySecretRef.namespace",
			rc.Spec.PVCSync.SSH.KeySecretRef.Namespace, system)
	}
	return p
}

// ReferenceProblem says whether the ClusterMapping's key Secret reference
// points outside the namespaces it may use; "" when it does not.
func (m *ClusterMapping) ReferenceProblem(system string) string {
	if m.Spec.SSHKeySecretRef == nil {
		return ""
	}
	return ForeignReferenceProblem("ClusterMapping", m.Namespace, m.Name, "spec.sshKeySecretRef.namespace",
		m.Spec.SSHKeySecretRef.Namespace, system)
}

// ReferenceProblem says whether the Replication's ClusterMapping reference
// points outside the namespaces it may use; "" when it does not. The
// RemoteClusters it names are always read from its own namespace.
func (r *Replication) ReferenceProblem(system string) string {
	if r.Spec.ClusterMappingRef == nil {
		return ""
	}
	return ForeignReferenceProblem("Replication", r.Namespace, r.Name, "spec.clusterMappingRef.namespace",
		r.Spec.ClusterMappingRef.Namespace, system)
}
