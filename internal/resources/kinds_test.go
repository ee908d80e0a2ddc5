package resources

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func kindNames(kinds []Kind) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.String())
	}
	return out
}

func TestSelectResolvesNamesCaseInsensitivelyInDependencyOrder(t *testing.T) {
	all := kindNames(Supported())
	tests := []struct {
		name            string
		types, extra    []string
		wantKinds       []string
		wantUnknown     []string
		wantStagesCount int
	}{
		{name: "star is every supported kind", types: []string{"*"}, wantKinds: all, wantStagesCount: 5},
		{name: "empty is every supported kind", wantKinds: all, wantStagesCount: 5},
		{name: "singular, plural, short and odd case, reordered by dependency",
			types:     []string{"Ingresses", "deployment", "SVC", "ConfigMaps", "secret", "PVC", "serviceaccounts", "RoleBinding", "role"},
			wantKinds: []string{"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "Deployment", "Ingress"}, wantStagesCount: 5},
		{name: "duplicates collapse", types: []string{"configmap", "configmaps", "cm", "ConfigMap"}, wantKinds: []string{"ConfigMap"}, wantStagesCount: 1},
		{name: "workloads and their scalers",
			types:     []string{"hpa", "jobs", "cronjob", "daemonsets", "statefulset", "networkpolicies"},
			wantKinds: []string{"NetworkPolicy", "StatefulSet", "DaemonSet", "CronJob", "Job", "HorizontalPodAutoscaler"}, wantStagesCount: 2},
		{name: "unknown names are reported as written", types: []string{"configmaps", "Widgets", "podz"},
			wantKinds: []string{"ConfigMap"}, wantUnknown: []string{"Widgets", "podz"}, wantStagesCount: 1},
		{name: "namespaceScopedResources come last, with built-ins resolved",
			types: []string{"ingress"}, extra: []string{"certificates.cert-manager.io", "ConfigMaps"},
			wantKinds: []string{"ConfigMap", "Ingress", "certificates.cert-manager.io"}, wantStagesCount: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel := Select(tc.types, tc.extra)
			assert.Equal(t, tc.wantKinds, kindNames(sel.Kinds))
			assert.Equal(t, tc.wantUnknown, sel.Unknown)
			assert.Len(t, Stages(sel.Kinds), tc.wantStagesCount)
		})
	}
}

func TestSupportedOrderPutsDependenciesFirst(t *testing.T) {
	pos := map[string]int{}
	for i, k := range Supported() {
		pos[k.Kind] = i
	}
	before := [][2]string{
		{"ServiceAccount", "Deployment"}, {"Role", "RoleBinding"}, {"ConfigMap", "PersistentVolumeClaim"},
		{"Secret", "PersistentVolumeClaim"}, {"PersistentVolumeClaim", "Service"}, {"Service", "Deployment"},
		{"NetworkPolicy", "Deployment"}, {"Deployment", "HorizontalPodAutoscaler"}, {"StatefulSet", "Ingress"},
		{"Job", "Ingress"}, {"Service", "Ingress"},
	}
	for _, b := range before {
		assert.Less(t, pos[b[0]], pos[b[1]], "%s must come before %s", b[0], b[1])
	}
	stages := Stages(Supported())
	assert.Equal(t, []string{"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "NetworkPolicy"}, kindNames(stages[0]))
	assert.Equal(t, []string{"Ingress"}, kindNames(stages[len(stages)-1]))
}
