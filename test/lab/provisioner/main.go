// Command provisioner runs the lab's hostPath dynamic provisioner (package
// hostpath) against one lab cluster. The lab starts one per cluster as a host
// process; see hack/lab/up.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dr-syncer/dr-syncer/test/lab/hostpath"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	name := flag.String("name", hostpath.DefaultName, "provisioner name (StorageClass.provisioner)")
	dir := flag.String("dir", "", "directory that holds the volumes")
	node := flag.String("node", "", "node the volumes are pinned to")
	flag.Parse()
	log, _ := zap.NewProduction()
	defer log.Sync() //nolint:errcheck
	if err := run(*kubeconfig, *name, *dir, *node, log); err != nil {
		log.Error("provisioner failed", zap.Error(err))
		os.Exit(1)
	}
}

func run(kubeconfig, name, dir, node string, log *zap.Logger) error {
	if kubeconfig == "" || dir == "" || node == "" {
		return fmt.Errorf("-kubeconfig, -dir and -node are required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return hostpath.New(hostpath.Options{Client: client, Name: name, BaseDir: dir, Node: node, Log: log}).Run(ctx)
}
