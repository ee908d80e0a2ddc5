// Package connectivity holds the activities that check the DR cluster
// reaches the source agents (ConnectivityActivities).
package connectivity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Roles of the objects a connectivity check creates.
const (
	RoleConnectivityCheck = "connectivity"
	RoleConnectivityKeys  = "connectivity-keys"
)

// ConnectivityActivities check that the DR cluster reaches the source agents.
type ConnectivityActivities struct {
	Clusters activities.ClusterResolver
	// Control reads the key Secrets.
	Control client.Reader
	// SystemNamespace is the namespace besides a mapping's own whose
	// Secrets its references may name.
	SystemNamespace string
}

// AgentAddresses lists host:port of the agent on every ready node of the
// source cluster the agent DaemonSet runs on (its node selector and
// tolerations), sorted by node name.
func (a *ConnectivityActivities) AgentAddresses(ctx context.Context, in contract.AgentAddressesInput) ([]string, error) {
	cs, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return nil, activities.Classify(err)
	}
	name := agentdeploy.Defaults().Name
	ds, err := cs.AppsV1().DaemonSets(contract.AgentNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, activities.NonRetryable(contract.ErrTypeAgentNotInstalled, "agent DaemonSet %s/%s not found in source cluster %s: enable spec.pvcSync on the RemoteCluster and wait for its rollout",
			contract.AgentNamespace, name, in.Source.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("get agent DaemonSet in %s: %w", in.Source.Name, err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes of %s: %w", in.Source.Name, err)
	}
	addrs := AgentAddressesOf(ds.Spec.Template.Spec, nodes.Items, in.Port)
	if len(addrs) == 0 {
		return nil, activities.NonRetryable(contract.ErrTypeAgentNotInstalled, "no ready node of source cluster %s with an InternalIP runs the agent", in.Source.Name)
	}
	return addrs, nil
}

// AgentAddressesOf is AgentAddresses' pure part: the ready nodes the agent
// pod spec may run on, as InternalIP:port.
func AgentAddressesOf(spec corev1.PodSpec, nodes []corev1.Node, port int32) []string {
	selector := labels.SelectorFromSet(spec.NodeSelector)
	var out []string
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range nodes {
		ip := kube.InternalIP(&n)
		if ip == "" || !kube.NodeReady(&n) || !selector.Matches(labels.Set(n.Labels)) || !tolerated(spec.Tolerations, n.Spec.Taints) {
			continue
		}
		out = append(out, net.JoinHostPort(ip, strconv.Itoa(int(port))))
	}
	return out
}

// daemonSetTolerated are the taint keys the DaemonSet controller tolerates
// on every DaemonSet pod (node conditions and cordoning).
var daemonSetTolerated = []string{
	corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeDiskPressure, corev1.TaintNodeMemoryPressure,
	corev1.TaintNodePIDPressure, corev1.TaintNodeUnschedulable, corev1.TaintNodeNetworkUnavailable,
}

func tolerated(tolerations []corev1.Toleration, taints []corev1.Taint) bool {
	for i := range taints {
		taint := &taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule || slices.Contains(daemonSetTolerated, taint.Key) {
			continue
		}
		ok := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(klog.Background(), taint, false) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// RunConnectivityCheck issues a certificate into a per-check Secret in the DR
// cluster, runs sshcheck in a pod there against every agent and reads the
// outcome from its termination message. Cleanup is the workflow's: it
// deletes the pod and Secret by the operation label, on every path.
func (a *ConnectivityActivities) RunConnectivityCheck(ctx context.Context, in contract.ConnectivityCheckInput) (contract.ConnectivityResult, error) {
	if err := a.checkInput(ctx, in); err != nil {
		return contract.ConnectivityResult{}, err
	}
	timeout := time.Duration(in.TimeoutSeconds) * time.Second
	cs, err := a.Clusters.Clientset(ctx, in.DR.Namespace, in.DR.Name)
	if err != nil {
		return contract.ConnectivityResult{}, activities.Classify(err)
	}
	if err := activities.CreateNamespace(ctx, cs, contract.ConnectivityNamespace, map[string]string{kube.LabelManagedBy: kube.ManagedBy}); err != nil {
		return contract.ConnectivityResult{}, err
	}
	secret, err := a.writeCheckSecret(ctx, cs, in)
	if err != nil {
		return contract.ConnectivityResult{}, err
	}
	pod := kube.ConnectivityPod(kube.ConnectivityPodOptions{
		Name: in.Op.Name("conncheck"), Namespace: contract.ConnectivityNamespace,
		Image: in.Image.Reference, PullPolicy: in.Image.PullPolicy, Labels: in.Op.Labels(RoleConnectivityCheck),
		KeySecret: secret, Timeout: AgentCheckTimeout(timeout).String(), Agents: in.Agents,
	})
	if _, err := activities.CreateOrGetPod(ctx, cs, pod); err != nil {
		return contract.ConnectivityResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	term, err := activities.WaitPodTerminated(wctx, cs, pod.Namespace, pod.Name)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return contract.ConnectivityResult{}, activities.NonRetryable(contract.ErrTypeConnectivityTimeout,
				"connectivity check pod %s/%s did not finish within %s: %v", pod.Namespace, pod.Name, timeout, err)
		}
		return contract.ConnectivityResult{}, err
	}
	var s sshcheck.Summary
	if err := json.Unmarshal([]byte(strings.TrimSpace(term.Message)), &s); err != nil {
		return contract.ConnectivityResult{}, fmt.Errorf("connectivity check pod %s/%s ended (%s, exit %d) without a result: %s",
			pod.Namespace, pod.Name, term.Reason, term.ExitCode, term.Message)
	}
	return contract.ConnectivityResult{Agents: s.Results(in.Agents), Connected: s.Connected && s.Checked == len(in.Agents)}, nil
}

// probeCertValidity covers the check pod's start and its logins: the
// check's whole timeout, and at least a few minutes for a slow image pull
// on a retry.
func probeCertValidity(timeoutSeconds int32) time.Duration {
	return max(time.Duration(timeoutSeconds)*time.Second, 5*time.Minute)
}

// AgentCheckTimeout is sshcheck's per-agent timeout within a check bounded
// by total: half of it, leaving the rest for the pod to start, at most 30s.
func AgentCheckTimeout(total time.Duration) time.Duration {
	return min(max(total/2, time.Second), 30*time.Second)
}

func (a *ConnectivityActivities) writeCheckSecret(ctx context.Context, cs kubernetes.Interface, in contract.ConnectivityCheckInput) (string, error) {
	authority, err := activities.LoadSSHAuthority(ctx, a.Control, in.ClusterKey, in.AgentHostKey)
	if err != nil {
		return "", err
	}
	// The check only logs in: its certificate is bound to keys.ProbeTarget,
	// which no agent forwards, and lives as long as the check may.
	sshKeys, _, err := authority.Identity("connectivity-check "+in.Op.WorkflowID, keys.ProbeTarget, probeCertValidity(in.TimeoutSeconds))
	if err != nil {
		return "", err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: in.Op.Name("conncheck"), Namespace: contract.ConnectivityNamespace, Labels: in.Op.Labels(RoleConnectivityKeys)},
		Type:       corev1.SecretTypeOpaque,
		Data:       sshKeys,
	}
	if err := activities.WriteSecret(ctx, cs.CoreV1().Secrets(contract.ConnectivityNamespace), secret); err != nil {
		return "", fmt.Errorf("write connectivity key Secret %s/%s: %w", contract.ConnectivityNamespace, secret.Name, err)
	}
	return secret.Name, nil
}
