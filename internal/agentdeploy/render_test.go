package agentdeploy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

func decodeAll(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, "rendered YAML:\n%s", b)
		docs = append(docs, d)
	}
}

func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "not a map at %v", p)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok, "not a list at %v", p)
			v = l[k]
		}
	}
	return v
}

func TestRenderAgent(t *testing.T) {
	out, err := Render(Values{
		Image:             "registry.local/dr-syncer:v1",
		Namespace:         "dr-system",
		Port:              2222,
		PriorityClassName: "system-node-critical",
		Tolerations:       []map[string]any{{"operator": "Exists", "effect": "NoSchedule"}},
		Labels:            map[string]string{"team": "storage: \"quoted\""},
	})
	require.NoError(t, err)
	assert.NotContains(t, string(out), "<no value>")
	docs := decodeAll(t, out)
	kinds := []string{}
	for _, d := range docs {
		kinds = append(kinds, d["kind"].(string))
	}
	assert.Equal(t, []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}, kinds)

	ds := docs[3]
	pod := get(t, ds, "spec", "template", "spec")
	assert.Equal(t, true, get(t, pod, "hostNetwork"))
	assert.Equal(t, "system-node-critical", get(t, pod, "priorityClassName"))
	assert.Equal(t, true, get(t, pod, "securityContext", "runAsNonRoot"))
	c := get(t, pod, "containers", 0)
	assert.Equal(t, "registry.local/dr-syncer:v1", get(t, c, "image"))
	assert.Equal(t, 2222, get(t, c, "ports", 0, "hostPort"))
	assert.Equal(t, false, get(t, c, "securityContext", "allowPrivilegeEscalation"))
	assert.Equal(t, true, get(t, c, "securityContext", "readOnlyRootFilesystem"))
	assert.Contains(t, get(t, c, "args"), "--listen=:2222")
	assert.Equal(t, "storage: \"quoted\"", get(t, ds, "metadata", "labels", "team"))
	assert.Equal(t, get(t, ds, "spec", "selector", "matchLabels", "app.kubernetes.io/name"),
		get(t, ds, "spec", "template", "metadata", "labels", "app.kubernetes.io/name"))
	assert.EqualValues(t, 0o440, get(t, pod, "volumes", 0, "secret", "defaultMode"))

	_, err = Render(Values{})
	require.Error(t, err, "image is required")
	_, err = Render(Values{Image: "x", Port: 22})
	require.Error(t, err, "privileged port")
}

func TestRenderAgentKubernetesAllowList(t *testing.T) {
	out, err := Render(Values{Image: "x", KubernetesAllowList: true})
	require.NoError(t, err)
	docs := decodeAll(t, out)
	assert.Equal(t, []any{"get", "list", "watch"}, get(t, docs[1], "rules", 0, "verbs"))
	pod := get(t, docs[3], "spec", "template", "spec")
	assert.Equal(t, true, get(t, pod, "automountServiceAccountToken"))
	c := get(t, pod, "containers", 0)
	assert.Contains(t, get(t, c, "args"), "--allow-from-api")
	assert.NotContains(t, get(t, c, "args"), "--allow-list-file=/etc/dr-syncer/allow-list/targets")
	assert.Equal(t, "NODE_NAME", get(t, c, "env", 1, "name"))
	assert.Equal(t, "spec.nodeName", get(t, c, "env", 1, "valueFrom", "fieldRef", "fieldPath"))

	out, err = Render(Values{Image: "x"})
	require.NoError(t, err)
	c = get(t, decodeAll(t, out)[3], "spec", "template", "spec", "containers", 0)
	assert.Contains(t, get(t, c, "args"), "--allow-list-file=/etc/dr-syncer/allow-list/targets")
	assert.NotContains(t, get(t, c, "args"), "--allow-from-api")
}

func TestRenderSecretsMatchesWhatTheAgentReads(t *testing.T) {
	hostPriv, hostPub, err := keys.GenerateHostKey("agent")
	require.NoError(t, err)
	pair, err := keys.GenerateClusterPairKey("prod->dr")
	require.NoError(t, err)
	next, err := keys.GenerateClusterPairKey("prod->dr next")
	require.NoError(t, err)
	out, err := RenderSecrets(Values{Namespace: "dr-system"}, SecretData{
		HostKeyPEM:     hostPriv,
		HostKeyPub:     hostPub,
		AuthorizedKeys: append(append([]byte{}, pair.AuthorizedKey...), next.AuthorizedKey...),
		AllowTargets:   []string{"10.1.2.3:8873", "[fd00::7]:8873"},
	})
	require.NoError(t, err)
	assert.Equal(t, "[redacted]", out.String())
	docs := decodeAll(t, out.Reveal())
	require.Len(t, docs, 3)

	signer, err := keys.ParsePrivateKey(keys.Secret(get(t, docs[0], "stringData", "ssh_host_ed25519_key").(string)))
	require.NoError(t, err)
	pub, err := keys.ParsePublicKey([]byte(get(t, docs[0], "stringData", "ssh_host_ed25519_key.pub").(string)))
	require.NoError(t, err)
	assert.Equal(t, pub.Marshal(), signer.PublicKey().Marshal())

	set, err := keys.ParseAuthorizedKeys([]byte(get(t, docs[1], "stringData", "authorized_keys").(string)))
	require.NoError(t, err)
	assert.Equal(t, 2, set.Len())

	allow, err := agent.ParseAllowList([]byte(get(t, docs[2], "data", "targets").(string)))
	require.NoError(t, err)
	assert.True(t, allow.Allowed("10.1.2.3", 8873))
	assert.True(t, allow.Allowed("fd00::7", 8873))
	assert.True(t, strings.HasPrefix(get(t, docs[2], "data", "targets").(string), "# ip:port"))
}
