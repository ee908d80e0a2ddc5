package kube

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// Paths inside the data-plane image and pods; the mover's and mount server's
// flag defaults point at the same places.
const (
	DataPath            = "/data"
	RsyncCredentialsDir = "/etc/dr-syncer/rsync"
	// OpKeyDir holds a DR pod's per-operation key and certificate.
	OpKeyDir        = "/etc/dr-syncer/op-key"
	AgentHostKeyDir = "/etc/dr-syncer/agent-host-key"
	// MountServerPort is the rsync daemon's port in the mount pod.
	MountServerPort = 8873
)

// Keys of the Secrets the pods mount. A DR pod gets SecretKeyOpKey,
// SecretKeyOpCert and SecretKeyAgentHostKey (the pinned host keys, one per
// line), never SecretKeyClusterKey: that is the name of the cluster-pair
// private key in the control cluster, which stays there.
const (
	SecretKeyRsyncUser     = keys.RsyncUserFile
	SecretKeyRsyncPassword = keys.RsyncPasswordFile
	SecretKeyClusterKey    = "id_ed25519"
	SecretKeyOpKey         = keys.OpKeyFile
	SecretKeyOpCert        = keys.OpCertFile
	SecretKeyAgentHostKey  = keys.HostKeysFile
)

// MountTarget names a mount pod's rsync daemon as "<namespace>/<pod>:port".
// The agent's API-backed allow-list resolves the name to the pod's IP, so a
// sync pod can start before its mount pod has one.
func MountTarget(namespace, pod string) string {
	return net.JoinHostPort(namespace+"/"+pod, strconv.Itoa(MountServerPort))
}

// ParseMountTargetHost splits the host part of a MountTarget.
func ParseMountTargetHost(host string) (namespace, pod string, ok bool) {
	namespace, pod, ok = strings.Cut(host, "/")
	return namespace, pod, ok && namespace != "" && pod != "" && !strings.Contains(pod, "/")
}

// MountPodOptions describe the source-side pod that serves one PVC.
type MountPodOptions struct {
	Name, Namespace   string
	Node              string
	Claim             string
	Image             string
	PullPolicy        corev1.PullPolicy
	Labels            map[string]string
	CredentialsSecret string
	// Resources are the container's requests and limits; none set means
	// DefaultDataPodResources.
	Resources corev1.ResourceRequirements
	// HostsAllow are the only client addresses the rsync daemon accepts
	// (the agent's, AgentSourceAddresses); empty accepts any.
	HostsAllow []string
}

// MountPod mounts the source PVC read-only on the chosen node and serves it
// with an rsync daemon bound to the pod IP.
func MountPod(o MountPodOptions) *corev1.Pod {
	return mountPod(o, []string{"--path", DataPath}, claimMount{volume: "data", claim: o.Claim, path: DataPath})
}

// claimMount is a PVC as a data pod's container sees it.
type claimMount struct {
	volume, claim, path string
}

// mountPod mounts claims read-only and runs mountserver with serveArgs,
// which tell it where the claims are and which module serves each.
func mountPod(o MountPodOptions, serveArgs []string, claims ...claimMount) *corev1.Pod {
	env := []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"},
	}}}
	if len(o.HostsAllow) > 0 {
		env = append(env, corev1.EnvVar{Name: "DRSYNCER_HOSTS_ALLOW", Value: strings.Join(o.HostsAllow, ",")})
	}
	command := append([]string{"/usr/local/bin/mountserver"}, serveArgs...)
	command = append(command, "--port", fmt.Sprint(MountServerPort))
	mounts := make([]corev1.VolumeMount, 0, len(claims)+1)
	volumes := make([]corev1.Volume, 0, len(claims)+1)
	for _, c := range claims {
		mounts = append(mounts, corev1.VolumeMount{Name: c.volume, MountPath: c.path, ReadOnly: true})
		volumes = append(volumes, claimVolume(c.volume, c.claim, true))
	}
	mounts = append(mounts, corev1.VolumeMount{Name: "rsync-credentials", MountPath: RsyncCredentialsDir, ReadOnly: true})
	volumes = append(volumes, secretVolume("rsync-credentials", o.CredentialsSecret, SecretKeyRsyncUser, SecretKeyRsyncPassword))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: o.Labels},
		Spec: withWorkingPodDefaults(5, corev1.PodSpec{
			NodeName: o.Node,
			Containers: []corev1.Container{{
				Name:            "mountserver",
				Image:           o.Image,
				ImagePullPolicy: o.PullPolicy,
				Command:         command,
				Env:             env,
				SecurityContext: containerSecurity(mountServerCapabilities),
				Resources:       OrDefaultResources(o.Resources),
				Ports:           []corev1.ContainerPort{{Name: "rsync", ContainerPort: MountServerPort}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(MountServerPort)}},
					PeriodSeconds: 1,
				},
				VolumeMounts: mounts,
			}},
			Volumes: volumes,
		}),
	}
}

// SyncPodOptions describe the DR-side pod that pulls one PVC's data.
type SyncPodOptions struct {
	Name, Namespace string
	Node            string
	Claim           string
	Image           string
	PullPolicy      corev1.PullPolicy
	Labels          map[string]string
	// AgentAddr is the source node's agent, host:port.
	AgentAddr string
	// Target is the mount pod's rsync daemon as the agent reaches it: ip:port
	// or a MountTarget.
	Target string
	// SSHSecret holds the per-operation key, its certificate and the pinned
	// agent host keys.
	SSHSecret         string
	CredentialsSecret string
	// SyncConfigJSON is the dataSyncConfig the mover applies.
	SyncConfigJSON string
	// AcceptSourceChange tells the mover's data guard that a person accepted
	// the source's change (env DRSYNCER_ACCEPT_SOURCE_CHANGE=true): it then
	// syncs a source that shrank under a tenth of the DR copy, with no
	// deletion limit. Unset, the variable is left out of the pod.
	AcceptSourceChange bool
	// Resources are the container's requests and limits; none set means
	// DefaultDataPodResources.
	Resources corev1.ResourceRequirements
}

// MoverContainer is SyncPod's one container: the mover whose log and
// termination message Transfer reads.
const MoverContainer = "mover"

// SyncPod mounts the target PVC read-write and runs the mover, which reports
// progress as JSON lines on stdout and its result as the termination message.
func SyncPod(o SyncPodOptions) *corev1.Pod {
	mover := moverContainer(o, MoverContainer)
	mover.Command = append(mover.Command, "--dest", DataPath)
	mover.VolumeMounts = append([]corev1.VolumeMount{{Name: "data", MountPath: DataPath}}, mover.VolumeMounts...)
	return syncPod(o, []corev1.Container{mover}, claimVolume("data", o.Claim, false))
}

// syncPod runs movers, each filling the claim volume it mounts; they share
// the per-operation credentials and keys.
func syncPod(o SyncPodOptions, movers []corev1.Container, claims ...corev1.Volume) *corev1.Pod {
	volumes := slices.Concat(claims, []corev1.Volume{
		secretVolume("rsync-credentials", o.CredentialsSecret, SecretKeyRsyncUser, SecretKeyRsyncPassword),
		secretVolume("op-key", o.SSHSecret, SecretKeyOpKey, SecretKeyOpCert),
		secretVolume("agent-host-key", o.SSHSecret, SecretKeyAgentHostKey),
	})
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: o.Labels},
		Spec: withWorkingPodDefaults(10, corev1.PodSpec{
			// Placed by the scheduler, pinned by affinity rather than
			// spec.nodeName: a new target PVC of a WaitForFirstConsumer
			// class is provisioned on the node the scheduler selects for
			// it (ChooseNodes selects that node ahead, when it may).
			Affinity:   nodeAffinity(o.Node),
			Containers: movers,
			Volumes:    volumes,
		}),
	}
}

// moverContainer is a mover named name with the settings every mover
// gets and the Secrets it reads; the caller mounts the claims it fills and
// says where (--dest, or --claim per claim).
func moverContainer(o SyncPodOptions, name string) corev1.Container {
	env := []corev1.EnvVar{
		{Name: "DRSYNCER_AGENT_ADDR", Value: o.AgentAddr},
		{Name: "DRSYNCER_TARGET", Value: o.Target},
		{Name: "DRSYNCER_SYNC_CONFIG", Value: o.SyncConfigJSON},
		{Name: "DRSYNCER_AGENT_HOST_KEY_PUB", Value: AgentHostKeyDir + "/" + SecretKeyAgentHostKey},
		{Name: "DRSYNCER_CLIENT_KEY", Value: OpKeyDir + "/" + SecretKeyOpKey},
		{Name: "DRSYNCER_CLIENT_CERT", Value: OpKeyDir + "/" + SecretKeyOpCert},
		{Name: "DRSYNCER_RSYNC_CREDENTIALS_DIR", Value: RsyncCredentialsDir},
	}
	if o.AcceptSourceChange {
		env = append(env, corev1.EnvVar{Name: "DRSYNCER_ACCEPT_SOURCE_CHANGE", Value: "true"})
	}
	return corev1.Container{
		Name:                     name,
		Image:                    o.Image,
		ImagePullPolicy:          o.PullPolicy,
		Command:                  []string{"/usr/local/bin/mover"},
		Env:                      env,
		SecurityContext:          containerSecurity(moverCapabilities),
		Resources:                OrDefaultResources(o.Resources),
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts: []corev1.VolumeMount{
			{Name: "rsync-credentials", MountPath: RsyncCredentialsDir, ReadOnly: true},
			{Name: "op-key", MountPath: OpKeyDir, ReadOnly: true},
			{Name: "agent-host-key", MountPath: AgentHostKeyDir, ReadOnly: true},
		},
	}
}

// claimVolume is the pod volume name for claim; a source claim is mounted
// read-only, a DR claim read-write.
func claimVolume(name, claim string, readOnly bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
		ClaimName: claim, ReadOnly: readOnly,
	}}}
}

// withWorkingPodDefaults sets what every dr-syncer working pod shares: it
// runs once, holds no service-account token and no service links, runs
// under the runtime's seccomp profile, and gets graceSeconds to stop.
func withWorkingPodDefaults(graceSeconds int64, spec corev1.PodSpec) corev1.PodSpec {
	spec.SecurityContext = podSecurity()
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.TerminationGracePeriodSeconds = ptr(graceSeconds)
	spec.AutomountServiceAccountToken = ptr(false)
	spec.EnableServiceLinks = ptr(false)
	return spec
}

// nodeAffinity requires the node named node, by name (not by the hostname
// label, which may differ from it).
func nodeAffinity(node string) *corev1.Affinity {
	if node == "" {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
				Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		},
	}}
}

func secretVolume(name, secret string, keys ...string) corev1.Volume {
	items := make([]corev1.KeyToPath, 0, len(keys))
	for _, k := range keys {
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, Items: items, DefaultMode: ptr(int32(0o400)),
	}}}
}

// PodProblem explains why a pod is not becoming ready, from its status and
// its events; permanent problems will not fix themselves by waiting.
func PodProblem(pod *corev1.Pod, events []corev1.Event) (reason string, permanent bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return fmt.Sprintf("pod %s is unschedulable: %s", pod.Name, c.Message), false
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		switch w.Reason {
		case "ErrImageNeverPull", "InvalidImageName":
			return fmt.Sprintf("image %s of pod %s cannot be used (%s): %s", cs.Image, pod.Name, w.Reason, w.Message), true
		case "ImagePullBackOff", "ErrImagePull":
			return fmt.Sprintf("image %s of pod %s cannot be pulled (%s): %s", cs.Image, pod.Name, w.Reason, w.Message), false
		case "CreateContainerConfigError", "CreateContainerError":
			return fmt.Sprintf("pod %s cannot start its container (%s): %s", pod.Name, w.Reason, w.Message), false
		}
	}
	for _, e := range events {
		if e.InvolvedObject.UID != pod.UID {
			continue
		}
		switch e.Reason {
		case "FailedMount", "FailedAttachVolume", "FailedMapVolume":
			return fmt.Sprintf("volume of pod %s cannot be mounted (%s): %s", pod.Name, e.Reason, strings.TrimSpace(e.Message)), false
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		return fmt.Sprintf("pod %s failed: %s %s", pod.Name, pod.Status.Reason, pod.Status.Message), true
	}
	return "", false
}

// PodReady is true when every container of pod is ready.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
