package main

import (
	"flag"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// podFlags are the worker's settings of the mount and sync pods.
type podFlags struct {
	cpuRequest, memoryRequest, cpuLimit, memoryLimit *string
	anyMountClient                                   *bool
}

func registerPodFlags(fs *flag.FlagSet) podFlags {
	quantity := func(name, env, def, what string) *string {
		return fs.String(name, cliutil.Env(env, def), what+" of each mount and sync pod; empty leaves it unset (env "+env+")")
	}
	return podFlags{
		cpuRequest:    quantity("data-pod-cpu-request", "DRSYNCER_DATA_POD_CPU_REQUEST", kube.DefaultDataPodCPURequest, "CPU request"),
		memoryRequest: quantity("data-pod-memory-request", "DRSYNCER_DATA_POD_MEMORY_REQUEST", kube.DefaultDataPodMemoryRequest, "memory request"),
		cpuLimit:      quantity("data-pod-cpu-limit", "DRSYNCER_DATA_POD_CPU_LIMIT", kube.DefaultDataPodCPULimit, "CPU limit"),
		memoryLimit: quantity("data-pod-memory-limit", "DRSYNCER_DATA_POD_MEMORY_LIMIT", kube.DefaultDataPodMemoryLimit,
			"memory limit (rsync keeps about 100 bytes per file in memory)"),
		anyMountClient: fs.Bool("mount-pod-any-client", cliutil.Env("DRSYNCER_MOUNT_POD_ANY_CLIENT", "") == "true",
			"let a mount pod's rsync daemon accept any address instead of only the agent's (the per-operation password still applies); "+
				"for CNIs where a host-network agent reaches local pods from an address that is neither the node's nor its pod CIDR's gateway (env DRSYNCER_MOUNT_POD_ANY_CLIENT=true)"),
	}
}

func (f podFlags) settings() (pvcdata.PodSettings, error) {
	r, err := kube.DataPodResources(*f.cpuRequest, *f.memoryRequest, *f.cpuLimit, *f.memoryLimit)
	if err != nil {
		return pvcdata.PodSettings{}, err
	}
	return pvcdata.PodSettings{Resources: r, AnyMountClient: *f.anyMountClient}, nil
}
