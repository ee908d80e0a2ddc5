package kube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The capabilities the working pods keep; every other one is dropped. They
// run as root because the volumes hold files of any owner and mode, but
// root without these capabilities is an ordinary user towards other users'
// files. Each was found by running the real rsync under a bounding set
// without it (docs/hardening-podsec.md lists the failures).
var (
	// mountServerCapabilities serve a volume read-only with rsyncd:
	//   - DAC_READ_SEARCH: read every file and list every directory,
	//     whatever its mode (a 0000 file or a 0700 directory of another user);
	//   - FOWNER: "open noatime" opens with O_NOATIME, which only the file's
	//     owner or FOWNER may ask for (so reading leaves atimes untouched);
	//   - SYS_CHROOT: "use chroot" confines the daemon to the volume;
	//   - SETGID: the module's "gid = 0" makes rsyncd call setgroups(2).
	mountServerCapabilities = []corev1.Capability{"DAC_READ_SEARCH", "FOWNER", "SYS_CHROOT", "SETGID"}
	// moverCapabilities write the DR copy with --archive --acls --xattrs
	// --numeric-ids and read it back for the guard and the verification:
	//   - CHOWN: give each file its source owner and group;
	//   - DAC_OVERRIDE: update, delete and read files and directories whose
	//     mode shuts out root-without-capabilities;
	//   - FOWNER: set times, modes and ACLs on files of other owners;
	//   - FSETID: keep setuid/setgid bits, which the kernel clears on a
	//     chown or write without it (the copy would silently differ);
	//   - MKNOD: recreate device nodes (--devices);
	//   - SETFCAP: write security.capability xattrs (file capabilities).
	moverCapabilities = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "MKNOD", "SETFCAP"}
)

// podSecurity is every working pod's: the runtime's default seccomp profile.
func podSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
}

// containerSecurity drops every capability but keep, and forbids gaining
// more (setuid binaries, file capabilities).
func containerSecurity(keep []corev1.Capability) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Privileged:               ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: keep},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// Defaults of the mount and sync pods' resources (worker flags
// --data-pod-*). rsync holds its file list in memory, about 100 bytes a
// file: 2Gi carries some ten million files; a pod killed for memory ends in
// a retry that resumes, never in a half-written DR copy being kept.
const (
	DefaultDataPodCPURequest    = "100m"
	DefaultDataPodMemoryRequest = "256Mi"
	DefaultDataPodCPULimit      = "2"
	DefaultDataPodMemoryLimit   = "2Gi"
)

// checkPodResources size the connectivity check pod, which runs one small
// Go program for seconds.
var checkPodResources = mustResources("50m", "64Mi", "500m", "128Mi")

// DataPodResources are the mount and sync pods' requests and limits from
// quantities such as "100m" and "2Gi"; an empty value leaves that one out.
// A limit below its request is refused, as the API server would refuse the
// pod, but here with the flag's name.
func DataPodResources(cpuRequest, memoryRequest, cpuLimit, memoryLimit string) (corev1.ResourceRequirements, error) {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, v := range []struct {
		flag, value string
		list        corev1.ResourceList
		name        corev1.ResourceName
	}{
		{"data-pod-cpu-request", cpuRequest, r.Requests, corev1.ResourceCPU},
		{"data-pod-memory-request", memoryRequest, r.Requests, corev1.ResourceMemory},
		{"data-pod-cpu-limit", cpuLimit, r.Limits, corev1.ResourceCPU},
		{"data-pod-memory-limit", memoryLimit, r.Limits, corev1.ResourceMemory},
	} {
		if v.value == "" {
			continue
		}
		q, err := resource.ParseQuantity(v.value)
		if err != nil || q.Sign() <= 0 {
			return corev1.ResourceRequirements{}, fmt.Errorf("--%s %q is not a positive quantity such as 500m or 1Gi", v.flag, v.value)
		}
		v.list[v.name] = q
	}
	for name, limit := range r.Limits {
		if req, ok := r.Requests[name]; ok && limit.Cmp(req) < 0 {
			return corev1.ResourceRequirements{}, fmt.Errorf("the %s limit %s is below its request %s; raise --data-pod-%s-limit", name, limit.String(), req.String(), name)
		}
	}
	return r, nil
}

// DefaultDataPodResources are DataPodResources of the defaults.
func DefaultDataPodResources() corev1.ResourceRequirements {
	return mustResources(DefaultDataPodCPURequest, DefaultDataPodMemoryRequest, DefaultDataPodCPULimit, DefaultDataPodMemoryLimit)
}

func mustResources(cpuRequest, memoryRequest, cpuLimit, memoryLimit string) corev1.ResourceRequirements {
	r, err := DataPodResources(cpuRequest, memoryRequest, cpuLimit, memoryLimit)
	if err != nil {
		panic(err)
	}
	return r
}

// OrDefaultResources keeps a pod from ever running unbounded: options
// without resources (a caller that sets none) get the defaults.
func OrDefaultResources(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return DefaultDataPodResources()
	}
	return r
}
