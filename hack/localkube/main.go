// Command localkube runs a throwaway kube-apiserver (with etcd) for `make run`
// on a machine that has no cluster: the same binaries envtest uses, with
// dr-syncer's CRDs installed and an admin kubeconfig written to a file.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localkube:", err)
		os.Exit(1)
	}
}

func run() error {
	// Own flag set: controller-runtime registers --kubeconfig on the global one.
	fs := flag.NewFlagSet("localkube", flag.ExitOnError)
	assets := fs.String("assets", os.Getenv("DRSYNCER_BIN"), "folder with etcd and kube-apiserver (`make tools` builds them)")
	crds := fs.String("crds", "deploy/crd", "folder of CRDs to install")
	kubeconfig := fs.String("kubeconfig", ".run/kubeconfig", "where to write the admin kubeconfig")
	_ = fs.Parse(os.Args[1:])

	env := &envtest.Environment{
		BinaryAssetsDirectory: *assets,
		CRDDirectoryPaths:     []string{*crds},
		ErrorIfCRDPathMissing: true,
	}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver from %s: %w", *assets, err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	if err := os.WriteFile(*kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	fmt.Printf("kube-apiserver ready; KUBECONFIG=%s\n", *kubeconfig)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return nil
}
