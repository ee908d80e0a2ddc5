package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// rolloutInputs are what an agent rollout's version hashes: the settings,
// the host key and the authorized cluster-pair keys. They are kept so that
// when one version supersedes another the log can say which input changed;
// a version alone (a hash) cannot.
type rolloutInputs struct {
	Config     contract.AgentConfig
	HostKey    string
	Authorized []string
	// Whose maps an authorized fingerprint to the mapping it belongs to
	// ("dr-syncer ns/name"), for the log.
	Whose map[string]string
	// ConfigUnknown is set for inputs rebuilt from a rollout's outcome,
	// which records the keys but not the settings.
	ConfigUnknown bool
}

func (in rolloutInputs) version() string {
	return rolloutVersion(in.Config, in.HostKey, in.Authorized)
}

// rolloutVersion hashes what the agent runs with; fingerprints only.
func rolloutVersion(cfg contract.AgentConfig, hostFP string, authorized []string) string {
	b, _ := json.Marshal(struct {
		Config     contract.AgentConfig
		HostKey    string
		Authorized []string
	}{cfg, hostFP, authorized})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

func inputsOf(cfg contract.AgentConfig, hostFP string, k resolve.ClusterKeys) rolloutInputs {
	in := rolloutInputs{Config: cfg, HostKey: hostFP, Authorized: k.Fingerprints, Whose: map[string]string{}}
	for _, fp := range k.Fingerprints {
		in.Whose[fp] = k.Comment(fp)
	}
	return in
}

// rolloutChange says in one line what differs from old to new: the agent
// settings, the host key, or which authorized keys were added or removed.
func rolloutChange(old, new rolloutInputs) string {
	var parts []string
	if !old.ConfigUnknown {
		var cfg []string
		o, n := old.Config, new.Config
		if o.Image != n.Image {
			cfg = append(cfg, fmt.Sprintf("image %s → %s", o.Image, n.Image))
		}
		if o.PullPolicy != n.PullPolicy {
			cfg = append(cfg, fmt.Sprintf("pullPolicy %s → %s", o.PullPolicy, n.PullPolicy))
		}
		if o.Port != n.Port {
			cfg = append(cfg, fmt.Sprintf("port %d → %d", o.Port, n.Port))
		}
		if !reflect.DeepEqual(o.Deployment, n.Deployment) {
			cfg = append(cfg, "deployment changed")
		}
		if len(cfg) > 0 {
			parts = append(parts, "agent settings: "+strings.Join(cfg, ", "))
		}
	}
	if old.HostKey != new.HostKey {
		parts = append(parts, fmt.Sprintf("host key %s → %s", orNone(old.HostKey), new.HostKey))
	}
	var keys []string
	for _, fp := range new.Authorized {
		if !slices.Contains(old.Authorized, fp) {
			keys = append(keys, "+"+fp+whose(new.Whose[fp]))
		}
	}
	for _, fp := range old.Authorized {
		if !slices.Contains(new.Authorized, fp) {
			keys = append(keys, "-"+fp+whose(old.Whose[fp]))
		}
	}
	if len(keys) > 0 {
		parts = append(parts, "authorized keys "+strings.Join(keys, " "))
	}
	if len(parts) == 0 {
		return "no input changed"
	}
	return strings.Join(parts, "; ")
}

func whose(comment string) string {
	if comment == "" {
		return ""
	}
	return " (" + comment + ")"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// awaitedKeys names the mappings whose key is about to exist: created less
// than unkeyedMappingWait ago and not reconciled yet. A RemoteCluster and
// its mapping are usually created together, and a rollout planned in the
// instant before the mapping's reconciler wrote the key would install an
// agent without it; the rollout with the key that follows changes only the
// authorized-keys Secret, which kubelet takes up to a minute to update in
// the running agent pods, and syncs are refused meanwhile. The wait is
// bounded, so a mapping whose reconciler is stuck never holds the agent
// back for long.
func awaitedKeys(unkeyed []resolve.UnkeyedMapping, now time.Time) []string {
	var names []string
	for _, u := range unkeyed {
		if !u.Reconciled && !u.Deleting && now.Sub(u.Created) < unkeyedMappingWait {
			names = append(names, u.Mapping.String())
		}
	}
	return names
}

// unkeyedMappingWait bounds how long a rollout waits for a new mapping's key.
const unkeyedMappingWait = 30 * time.Second

// rolloutMemory remembers the inputs of the versions this controller
// planned, per RemoteCluster, so that a superseded version's inputs can be
// compared with its successor's. It is memory only: the inputs of a version
// planned before the controller started are rebuilt from that rollout's
// outcome when it completed, and are unknown otherwise.
type rolloutMemory struct {
	mu        sync.Mutex
	byCluster map[string][]rolloutInputs
}

// rolloutMemoryPerCluster bounds what is kept: superseding goes back one
// version, and a few spare cover versions that alternate.
const rolloutMemoryPerCluster = 8

func (m *rolloutMemory) remember(cluster string, in rolloutInputs) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byCluster == nil {
		m.byCluster = map[string][]rolloutInputs{}
	}
	v := in.version()
	kept := slices.DeleteFunc(m.byCluster[cluster], func(o rolloutInputs) bool { return o.version() == v })
	kept = append(kept, in)
	if len(kept) > rolloutMemoryPerCluster {
		kept = kept[len(kept)-rolloutMemoryPerCluster:]
	}
	m.byCluster[cluster] = kept
}

func (m *rolloutMemory) lookup(cluster, version string) (rolloutInputs, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, in := range m.byCluster[cluster] {
		if in.version() == version {
			return in, true
		}
	}
	return rolloutInputs{}, false
}

func (m *rolloutMemory) forget(cluster string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byCluster, cluster)
}

// versionOf is the version part of an agent rollout's workflow ID
// (contract.AgentRolloutWorkflowID).
func versionOf(workflowID string) string {
	return workflowID[strings.LastIndex(workflowID, "/")+1:]
}
