package kube

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// KubeconfigPolicy says which RemoteCluster kubeconfigs dr-syncer loads.
//
// A kubeconfig can make the process that loads it run a command (exec, an
// auth-provider plugin) or read a file of its machine (tokenFile, a
// certificate, key or CA path). Whoever may write a RemoteCluster's
// kubeconfig Secret must not be able to make the controller or worker do
// either, so such kubeconfigs are refused unless the operator allows them.
type KubeconfigPolicy struct {
	// AllowExternal loads kubeconfigs that run commands or read local files.
	AllowExternal bool
	// SystemNamespace is the one namespace besides a RemoteCluster's own
	// that its kubeconfig Secret may be in (drv1.ForeignReferenceProblem);
	// empty allows only its own.
	SystemNamespace string
}

// AllowExternalFlag is the controller's and worker's flag that sets
// KubeconfigPolicy.AllowExternal.
const AllowExternalFlag = "allow-external-kubeconfig-credentials"

// Problem says why data may not be loaded under the policy, "" if it may;
// a kubeconfig that does not parse is left to the loader to report.
func (p KubeconfigPolicy) Problem(data []byte) string {
	if p.AllowExternal {
		return ""
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return ""
	}
	var found []string
	for name, u := range cfg.AuthInfos {
		for field, set := range map[string]bool{
			"exec": u.Exec != nil, "auth-provider": u.AuthProvider != nil, "tokenFile": u.TokenFile != "",
			"client-certificate": u.ClientCertificate != "", "client-key": u.ClientKey != "",
		} {
			if set {
				found = append(found, fmt.Sprintf("user %q uses %s", name, field))
			}
		}
	}
	for name, c := range cfg.Clusters {
		if c.CertificateAuthority != "" {
			found = append(found, fmt.Sprintf("cluster %q uses certificate-authority", name))
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	return strings.Join(found, ", ") + ": a kubeconfig that runs a command or reads a local file is not loaded. " +
		"Embed the credentials instead (token, client-certificate-data, client-key-data, certificate-authority-data), " +
		"for example a ServiceAccount token, or start the controller and worker with --" + AllowExternalFlag
}
