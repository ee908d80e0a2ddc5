package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/cmdutil"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
)

const rotateHostKeyUsage = `usage: drsyncer rotate-host-key NAMESPACE/REMOTECLUSTER [--kubeconfig PATH] [--context NAME]

Rotates the SSH host key of the RemoteCluster's agent, the key its SSH
bastion on every node presents to the DR cluster's sync pods. It sets the
RemoteCluster's dr-syncer.io/rotate-host-key annotation to a new value; the
controller then generates a new key, keeps the previous public key pinned
by every sync started meanwhile, rolls the agent out with the new key, and
drops the previous key once every node runs the new one. Syncs keep
working throughout, and no DR data is touched. A rotation asked for while
one is in progress starts when that one ends.

This command talks to the Kubernetes API server of the cluster that holds
the RemoteCluster (the control cluster), not to Temporal. Follow the
rotation with:
  kubectl -n NAMESPACE get remotecluster REMOTECLUSTER \
    -o jsonpath='{.status.conditions[?(@.type=="HostKeyRotating")].message}'
It is done when that condition's status is False (reason RotationComplete).

Flags:`

// rotateHostKey runs `rotate-host-key`: annotates the RemoteCluster.
func rotateHostKey(ctx context.Context, args []string, out, errOut io.Writer, now time.Time) error {
	fs := subcommandFlags("rotate-host-key", rotateHostKeyUsage, errOut)
	kubeconfig := fs.String("kubeconfig", cliutil.Env("KUBECONFIG", ""), "kubeconfig of the cluster that holds the RemoteCluster; empty uses ~/.kube/config (env KUBECONFIG)")
	kubeContext := fs.String("context", "", "kubeconfig context to use; empty uses its current context")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	ref, err := parseObjectRef("rotate-host-key", "REMOTECLUSTER", positional)
	if err != nil {
		return err
	}
	cfg, err := cmdutil.LoadRESTConfig(*kubeconfig, *kubeContext)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return fmt.Errorf("Kubernetes client for %s: %w", cfg.Host, err)
	}
	// A time to the nanosecond is new on every call, and says when it was asked.
	r, err := starter.RequestHostKeyRotation(ctx, c, ref, now.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "asked for a host key rotation of RemoteCluster %s/%s (%s=%s)\n", ref.Namespace, ref.Name, drv1.AnnotationRotateHostKey, r.Value)
	if r.Waiting != "" {
		fmt.Fprintf(out, "a rotation is in progress, and this one starts when it ends: %s\n", r.Waiting)
	}
	fmt.Fprintf(out, "follow it in the RemoteCluster's %s condition: kubectl -n %s get remotecluster %s -o jsonpath='{.status.conditions[?(@.type==\"%s\")].message}'\n",
		drv1.ConditionHostKeyRotating, ref.Namespace, ref.Name, drv1.ConditionHostKeyRotating)
	return nil
}
