// Package agentdeploy renders the agent's Kubernetes manifests (DaemonSet,
// ServiceAccount, RBAC) and its Secret/ConfigMap layout from the templates
// in this directory. It imports no Kubernetes packages: the output is YAML
// that the system applies, and the values come from the RemoteCluster's
// spec.pvcSync.
package agentdeploy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

//go:embed *.yaml.tmpl
var files embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"toJSON": func(v any) (string, error) {
		b, err := json.Marshal(v) // JSON is valid YAML, and quotes everything that needs it
		return string(b), err
	},
	"quote": strconv.Quote,
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
	},
}).Option("missingkey=error").ParseFS(files, "*.yaml.tmpl"))

// Values fill the templates. Zero fields take the defaults of Defaults.
type Values struct {
	Name       string
	Namespace  string
	Image      string
	PullPolicy string
	// Port is the agent's SSH port (RemoteCluster pvcSync.ssh.port).
	Port int
	// MetricsPort serves the agent's Prometheus /metrics (pvcSync.metrics).
	// Unlike the other fields, zero is not defaulted: it serves none, so
	// rollouts recorded before the field existed render as they did. With
	// hostNetwork it is a port of every node, like Port.
	MetricsPort int
	// HostNetwork runs the agent on the node's network (default true), so
	// DR movers reach it at the node IP without a Service.
	HostNetwork *bool
	// AllowedSourceCIDRs, when set, render a NetworkPolicy admitting the
	// agent's port only from them (see networkpolicy.go).
	AllowedSourceCIDRs []string
	// KubernetesAllowList mounts the service-account token for the
	// API-backed allow-list; the file-backed one needs none.
	KubernetesAllowList     bool
	NodeSelector            map[string]string
	Tolerations             []map[string]any
	Resources               map[string]any
	PriorityClassName       string
	Labels                  map[string]string
	PodAnnotations          map[string]string
	MaxConnections          int
	ShutdownGrace           time.Duration
	GoMemLimit              string
	HostKeySecret           string
	AuthorizedKeysSecret    string
	AllowListConfigMap      string
	TerminationGraceSeconds int64
}

// Defaults are the values used for zero fields.
func Defaults() Values {
	return Values{
		Name:           "dr-syncer-agent",
		Namespace:      "dr-syncer-system",
		PullPolicy:     "IfNotPresent",
		Port:           2222,
		HostNetwork:    ptr(true),
		NodeSelector:   map[string]string{"kubernetes.io/os": "linux"},
		Tolerations:    []map[string]any{},
		MaxConnections: 32,
		ShutdownGrace:  5 * time.Minute,
		GoMemLimit:     "256MiB",
		Resources: map[string]any{
			"requests": map[string]string{"cpu": "100m", "memory": "64Mi"},
			"limits":   map[string]string{"memory": "384Mi"},
		},
		HostKeySecret:        "dr-syncer-agent-host-key",
		AuthorizedKeysSecret: "dr-syncer-agent-authorized-keys",
		AllowListConfigMap:   "dr-syncer-agent-allow-list",
	}
}

func (v Values) withDefaults() (Values, error) {
	d := Defaults()
	str := func(f *string, def string) {
		if *f == "" {
			*f = def
		}
	}
	str(&v.Name, d.Name)
	str(&v.Namespace, d.Namespace)
	str(&v.PullPolicy, d.PullPolicy)
	str(&v.GoMemLimit, d.GoMemLimit)
	str(&v.HostKeySecret, d.HostKeySecret)
	str(&v.AuthorizedKeysSecret, d.AuthorizedKeysSecret)
	str(&v.AllowListConfigMap, d.AllowListConfigMap)
	if v.Port == 0 {
		v.Port = d.Port
	}
	if v.HostNetwork == nil {
		v.HostNetwork = d.HostNetwork
	}
	if v.NodeSelector == nil {
		v.NodeSelector = d.NodeSelector
	}
	if v.Tolerations == nil {
		v.Tolerations = d.Tolerations
	}
	if v.Resources == nil {
		v.Resources = d.Resources
	}
	if v.MaxConnections == 0 {
		v.MaxConnections = d.MaxConnections
	}
	if v.ShutdownGrace == 0 {
		v.ShutdownGrace = d.ShutdownGrace
	}
	if v.TerminationGraceSeconds == 0 {
		v.TerminationGraceSeconds = int64((v.ShutdownGrace + 30*time.Second) / time.Second)
	}
	if v.PodAnnotations == nil {
		v.PodAnnotations = map[string]string{}
	}
	if v.Image == "" {
		return v, errors.New("agent manifests: image is required")
	}
	if v.Port < 1024 || v.Port > 65535 {
		return v, fmt.Errorf("agent manifests: port %d must be 1024-65535 (the agent runs without privileges)", v.Port)
	}
	if err := v.validateMetricsPort(); err != nil {
		return v, err
	}
	if err := validateCIDRs(v.AllowedSourceCIDRs); err != nil {
		return v, err
	}
	return v, nil
}

// validateMetricsPort refuses a metrics port the agent could not bind:
// privileged, or the SSH port (both listen on the same network).
func (v Values) validateMetricsPort() error {
	switch {
	case v.MetricsPort == 0:
		return nil
	case v.MetricsPort < 1024 || v.MetricsPort > 65535:
		return fmt.Errorf("agent manifests: spec.pvcSync.metrics.port %d must be 1024-65535 (the agent runs without privileges)", v.MetricsPort)
	case v.MetricsPort == v.Port:
		return fmt.Errorf("agent manifests: spec.pvcSync.metrics.port %d is also the agent's SSH port (spec.pvcSync.ssh.port): "+
			"set one of them to another port, or set spec.pvcSync.metrics.enabled to false", v.MetricsPort)
	}
	return nil
}

// UseHostNetwork is HostNetwork with its default applied.
func (v Values) UseHostNetwork() bool { return v.HostNetwork == nil || *v.HostNetwork }

func ptr[T any](v T) *T { return &v }

// SelectorLabels are the DaemonSet's immutable selector.
func (v Values) SelectorLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "dr-syncer-agent", "app.kubernetes.io/instance": v.Name}
}

// AllLabels are the selector labels plus the user's labels.
func (v Values) AllLabels() map[string]string {
	out := maps.Clone(v.Labels)
	if out == nil {
		out = map[string]string{}
	}
	out["app.kubernetes.io/part-of"] = "dr-syncer"
	out["app.kubernetes.io/component"] = "agent"
	maps.Copy(out, v.SelectorLabels())
	return out
}

// Render returns the ServiceAccount, RBAC, DaemonSet and, with
// AllowedSourceCIDRs, the NetworkPolicy as one YAML stream.
func Render(v Values) ([]byte, error) {
	v, err := v.withDefaults()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "agent.yaml.tmpl", v); err != nil {
		return nil, fmt.Errorf("render agent manifests: %w", err)
	}
	return b.Bytes(), nil
}

// SecretData is the material of the agent's Secrets and allow-list.
type SecretData struct {
	HostKeyPEM     keys.Secret
	HostKeyPub     []byte
	AuthorizedKeys []byte
	AllowTargets   []string
}

// RenderSecrets returns the agent's Secrets and allow-list ConfigMap. The
// output contains key material: write it to the API, never to a log.
func RenderSecrets(v Values, d SecretData) (keys.Secret, error) {
	v, err := v.withDefaults()
	if err != nil && v.Image == "" {
		err = nil // the Secrets do not depend on the image
	}
	if err != nil {
		return nil, err
	}
	if len(d.HostKeyPEM) == 0 || len(d.HostKeyPub) == 0 {
		return nil, errors.New("agent secrets: host key is required")
	}
	var b bytes.Buffer
	err = templates.ExecuteTemplate(&b, "secrets.yaml.tmpl", map[string]any{
		"Values":         v,
		"HostKeyPEM":     string(d.HostKeyPEM.Reveal()),
		"HostKeyPub":     strings.TrimSpace(string(d.HostKeyPub)),
		"AuthorizedKeys": string(d.AuthorizedKeys),
		"AllowTargets":   d.AllowTargets,
	})
	if err != nil {
		return nil, fmt.Errorf("render agent secrets: %w", err)
	}
	return keys.Secret(b.Bytes()), nil
}
