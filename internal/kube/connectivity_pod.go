package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConnectivityPodOptions describe the DR-side pod that checks SSH
// connectivity to the source agents.
type ConnectivityPodOptions struct {
	Name, Namespace string
	Image           string
	PullPolicy      corev1.PullPolicy
	Labels          map[string]string
	// KeySecret holds the check's key, its certificate (bound to
	// keys.ProbeTarget) and the pinned agent host keys.
	KeySecret string
	// Timeout is sshcheck's per-agent timeout, as a Go duration.
	Timeout string
	// Agents are the source agents, host:port.
	Agents []string
}

// ConnectivityPod runs sshcheck once against every agent; it prints one
// JSON line per agent and leaves its summary as the termination message.
func ConnectivityPod(o ConnectivityPodOptions) *corev1.Pod {
	cmd := append([]string{"/usr/local/bin/sshcheck",
		"--client-key", OpKeyDir + "/" + SecretKeyOpKey,
		"--client-cert", OpKeyDir + "/" + SecretKeyOpCert,
		"--host-key", AgentHostKeyDir + "/" + SecretKeyAgentHostKey,
		"--timeout", o.Timeout,
	}, o.Agents...)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: o.Labels},
		Spec: withWorkingPodDefaults(2, corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:                     "sshcheck",
				Image:                    o.Image,
				ImagePullPolicy:          o.PullPolicy,
				Command:                  cmd,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				// sshcheck only reads its root-owned key files and dials out:
				// it needs no capability at all.
				SecurityContext: containerSecurity(nil),
				Resources:       checkPodResources,
				VolumeMounts: []corev1.VolumeMount{
					{Name: "op-key", MountPath: OpKeyDir, ReadOnly: true},
					{Name: "agent-host-key", MountPath: AgentHostKeyDir, ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				secretVolume("op-key", o.KeySecret, SecretKeyOpKey, SecretKeyOpCert),
				secretVolume("agent-host-key", o.KeySecret, SecretKeyAgentHostKey),
			},
		}),
	}
}
