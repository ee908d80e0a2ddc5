package kube

import corev1 "k8s.io/api/core/v1"

// The state of one container of a pod. A batch sync pod runs a mover per
// claim, and each claim's Transfer waits for its own container: another
// container starting or ending says nothing about it. The empty name
// stands for any container, which is what a pod of one container needs.

// HasContainer says whether pod's spec has a container named name.
func HasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// ContainerStarted says whether the container named name runs or has run
// (any container for "").
func ContainerStarted(pod *corev1.Pod, name string) bool {
	return containerIn(pod, name, func(s corev1.ContainerState) bool { return s.Running != nil || s.Terminated != nil }) != nil
}

// ContainerTerminated is the state of the container named name once it has
// ended (of the first that ended for ""), or nil.
func ContainerTerminated(pod *corev1.Pod, name string) *corev1.ContainerStateTerminated {
	if s := containerIn(pod, name, func(s corev1.ContainerState) bool { return s.Terminated != nil }); s != nil {
		return s.State.Terminated
	}
	return nil
}

// containerIn is the status of the first container named name (any for "")
// whose state is in.
func containerIn(pod *corev1.Pod, name string, in func(corev1.ContainerState) bool) *corev1.ContainerStatus {
	for i, c := range pod.Status.ContainerStatuses {
		if (name == "" || c.Name == name) && in(c.State) {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}
