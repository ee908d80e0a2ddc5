package pointintime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
)

// RunHook runs a freeze or thaw command in every running pod the hooks'
// selector picks in the source namespace, one pod after the other, each
// bounded by the command's timeout. A command that fails or times out is a
// non-retryable HookFailed naming the pod and its output. No running pod
// means nothing writes to the volume: the hook has nothing to do.
func (a *SnapshotActivities) RunHook(ctx context.Context, in contract.HookInput) (contract.HookResult, error) {
	cs, err := a.Clusters.Clientset(ctx, in.Source.Cluster.Namespace, in.Source.Cluster.Name)
	if err != nil {
		return contract.HookResult{}, activities.Classify(err)
	}
	config, err := a.Clusters.Config(ctx, in.Source.Cluster.Namespace, in.Source.Cluster.Name)
	if err != nil {
		return contract.HookResult{}, activities.Classify(err)
	}
	selector, err := metav1.LabelSelectorAsSelector(&in.Selector)
	if err != nil {
		return contract.HookResult{}, activities.InvalidSpec("hooks.selector: %v", err)
	}
	pods, err := cs.CoreV1().Pods(in.Source.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return contract.HookResult{}, fmt.Errorf("list pods %q in %s/%s: %w", selector, in.Source.Cluster.Name, in.Source.Namespace, err)
	}
	var result contract.HookResult
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
			continue
		}
		container := in.Container
		if container == "" {
			container = pod.Spec.Containers[0].Name
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("%s hook in pod %s/%s", in.Hook, pod.Namespace, pod.Name))
		timeout := in.Command.Timeout.Value()
		hookCtx, cancel := context.WithTimeout(ctx, timeout)
		out, err := execIn(hookCtx, cs, config, pod, container, in.Command.Command)
		timedOut := errors.Is(hookCtx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case timedOut:
			return result, activities.NonRetryable(contract.ErrTypeHookFailed, "%s hook %q in pod %s/%s (container %s) timed out after %s; output: %s",
				in.Hook, in.Command.Command, pod.Namespace, pod.Name, container, timeout, out)
		case err != nil:
			return result, activities.NonRetryable(contract.ErrTypeHookFailed, "%s hook %q in pod %s/%s (container %s) failed: %v; output: %s",
				in.Hook, in.Command.Command, pod.Namespace, pod.Name, container, err, out)
		}
		result.Pods = append(result.Pods, pod.Name)
	}
	return result, nil
}

// execIn runs command in the pod's container and returns its combined
// output (the last 2 KiB). Websocket first, SPDY for older API servers, as
// kubectl does.
func execIn(ctx context.Context, cs kubernetes.Interface, config *rest.Config, pod *corev1.Pod, container string, command []string) (string, error) {
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(config, "GET", req.URL().String())
	if err != nil {
		return "", err
	}
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", req.URL())
	if err != nil {
		return "", err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, httpstream.IsUpgradeFailure)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out})
	text := strings.TrimSpace(out.String())
	if len(text) > 2048 {
		text = "…" + text[len(text)-2048:]
	}
	return text, err
}
