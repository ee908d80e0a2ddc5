package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// Node selection with nodes, volumes and pods as real API servers hold them.
func TestChooseNodes(t *testing.T) {
	steps := newPVCSteps(t)
	env, acts, source, dr := steps.env, steps.acts, steps.source, steps.dr

	node(t, env.Source.Client, "prod-a", "10.0.0.1", "zone-a", true, false)
	node(t, env.Source.Client, "prod-b", "10.0.0.2", "zone-b", true, false)
	node(t, env.Source.Client, "prod-c", "10.0.0.3", "zone-c", true, false)
	node(t, env.Source.Client, "prod-down", "10.0.0.4", "zone-a", false, false)
	node(t, env.Source.Client, "prod-d", "10.0.0.5", "zone-a", true, false)
	node(t, env.DR.Client, "dr-a", "10.1.0.1", "zone-a", true, false)
	node(t, env.DR.Client, "dr-b", "10.1.0.2", "zone-b", true, false)
	node(t, env.DR.Client, "dr-b-cordoned", "10.1.0.3", "zone-b", true, true)

	testenv.EnsureNamespace(t, env.Source.Client, "app")
	create(t, env.Source.Client, pvc("app", "rwo-mounted", "standard", "1Gi", corev1.ReadWriteOnce, nil))
	create(t, env.Source.Client, pvc("app", "rwo-idle", "standard", "1Gi", corev1.ReadWriteOnce, nil))
	create(t, env.Source.Client, pvc("app", "rwx", "standard", "1Gi", corev1.ReadWriteMany, nil))
	create(t, env.Source.Client, pvc("app", "pinned", "standard", "1Gi", corev1.ReadWriteOnce, nil))
	create(t, env.Source.Client, pvc("app", "far", "standard", "1Gi", corev1.ReadWriteOnce, nil))
	create(t, env.Source.Client, pvc("app", "ebs", "standard", "1Gi", corev1.ReadWriteOnce, nil))
	runningPod(t, env.Source.Client, "app", "db", "prod-b", "rwo-mounted")
	runningPod(t, env.Source.Client, "app", "cache", "prod-c", "far")
	runningPod(t, env.Source.Client, "app", "legacy", "prod-d", "ebs")
	bindVolume(t, env.Source.Client, "app", "pinned", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/pinned"}}, "prod-c")
	bindVolume(t, env.Source.Client, "app", "ebs", corev1.PersistentVolumeSource{AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "vol-1"}}, "")
	// Attach limits: prod-a may attach one volume of the CSI driver behind
	// both classes; dr-a three, one of them taken; prod-b names the driver
	// without a limit; prod-c's one is taken twice over (room is still one:
	// a batch of one waits as any pod); a local volume (pinned) has no CSI
	// driver. The in-tree EBS volume counts as the EBS CSI driver's: prod-d
	// may attach four, its own attachment leaves them, two others take two.
	const driver, ebs = "hostpath.csi.k8s.io", "ebs.csi.aws.com"
	create(t, env.Source.Client, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: driver})
	create(t, env.DR.Client, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: driver})
	csiNode(t, env.Source.Client, "prod-a", driver, 1)
	csiNode(t, env.Source.Client, "prod-b", driver, 0)
	csiNode(t, env.Source.Client, "prod-c", driver, 1)
	csiNode(t, env.Source.Client, "prod-d", ebs, 4)
	csiNode(t, env.DR.Client, "dr-a", driver, 3)
	attachment(t, env.DR.Client, "dr-a", driver, "pv-other")
	attachment(t, env.DR.Client, "dr-a", ebs, "pv-ebs-elsewhere") // another driver's
	attachment(t, env.DR.Client, "dr-b", driver, "pv-on-dr-b")    // another node's
	attachment(t, env.Source.Client, "prod-c", driver, "pv-c-1")
	attachment(t, env.Source.Client, "prod-c", driver, "pv-c-2")
	attachment(t, env.Source.Client, "prod-d", ebs, "pv-ebs") // the claim's own
	attachment(t, env.Source.Client, "prod-d", ebs, "pv-ebs-2")
	attachment(t, env.Source.Client, "prod-d", ebs, "pv-ebs-3")

	// Mover room: dr-a has 1 CPU and 4 GiB; dr-syncer's agent takes 250m
	// and 1 GiB (it is dr-syncer's, but no sync's: it stays), so 7 movers
	// of the default 100m / 256Mi fit (memory would take 12). dr-syncer's
	// own working pods there, a finished pod and a pod of another node take
	// none of it. dr-b reports no allocatable.
	allocatable(t, env.DR.Client, "dr-a", "1", "4Gi")
	testenv.EnsureNamespace(t, env.DR.Client, "infra")
	podRequesting(t, env.DR.Client, "infra", "agent", "dr-a", "250m", "1Gi",
		map[string]string{"app.kubernetes.io/name": "dr-syncer-agent", kube.LabelManagedBy: kube.ManagedBy}, corev1.PodRunning)
	podRequesting(t, env.DR.Client, "infra", "done", "dr-a", "500m", "1Gi", nil, corev1.PodSucceeded)
	podRequesting(t, env.DR.Client, "infra", "elsewhere", "dr-b", "900m", "1Gi", nil, corev1.PodRunning)
	podRequesting(t, env.DR.Client, "infra", "batch-sync", "dr-a", "500m", "1Gi",
		kube.OperationLabels("replication/x/batch-0", "run", "sync"), corev1.PodPending)

	for _, tc := range []struct {
		pvc                    string
		targetClass            string
		sourceNode, targetNode string
		sourceReason           string
		targetReason           string
		attachLimit, moverRoom int
	}{
		{"rwo-mounted", "fast", "prod-b", "dr-b", "mounted by running pod db", "topology.kubernetes.io/zone=zone-b", 0, 0},
		{"rwo-idle", "fast", "prod-a", "dr-a", "not mounted by a running pod", "topology.kubernetes.io/zone=zone-a", 1, 7},
		{"rwx", "fast", "prod-a", "dr-a", "shared", "zone-a", 1, 7},
		{"pinned", "fast", "prod-c", "dr-a", "not mounted", "no node matches", 2, 7},
		{"far", "", "prod-c", "dr-a", "mounted by running pod cache", "no node matches the source node's topology", 1, 7},
		{"ebs", "", "prod-d", "dr-a", "mounted by running pod legacy", "zone-a", 2, 7},
	} {
		t.Run(tc.pvc, func(t *testing.T) {
			var ts testsuite.WorkflowTestSuite
			aenv := ts.NewTestActivityEnvironment()
			aenv.RegisterActivity(acts)
			v, err := aenv.ExecuteActivity(acts.ChooseNodes, contract.ChooseNodesInput{
				Source: contract.PVCRef{Cluster: source, Namespace: "app", Name: tc.pvc}, Destination: dr, TargetStorageClass: tc.targetClass})
			require.NoError(t, err)
			var plan contract.NodePlan
			require.NoError(t, v.Get(&plan))
			assert.Equal(t, tc.sourceNode, plan.Source.Node)
			assert.Equal(t, tc.targetNode, plan.Target.Node)
			assert.Contains(t, plan.Source.Reason, tc.sourceReason)
			assert.Contains(t, plan.Target.Reason, tc.targetReason)
			assert.NotEqual(t, "dr-b-cordoned", plan.Target.Node)
			assert.Equal(t, map[string]string{"prod-a": "10.0.0.1", "prod-b": "10.0.0.2", "prod-c": "10.0.0.3", "prod-d": "10.0.0.5"}[tc.sourceNode], plan.SourceAddress)
			assert.Equal(t, tc.attachLimit, plan.AttachLimit, "the fewer volumes the two nodes may attach; 0 is no limit")
			assert.Equal(t, tc.moverRoom, plan.MoverRoom, "the movers the DR node has room for; 0 is no limit")
		})
	}

	// A new DR claim whose class binds on first consumer gets the chosen
	// DR node selected, as the scheduler would select it for the sync pod,
	// so its provisioner makes the volume before that pod is scheduled; a
	// node it selected in an earlier run is moved to this run's choice.
	// Any other claim is left as it is, and a claim that is gone costs the
	// sync nothing.
	t.Run("a new DR claim is provisioned ahead on the chosen node", func(t *testing.T) {
		late := storagev1.VolumeBindingWaitForFirstConsumer
		for name, provisioner := range map[string]string{"late": driver, "preset": "kubernetes.io/no-provisioner", "zoned": driver} {
			class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &late}
			if name == "zoned" {
				class.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
					{Key: corev1.LabelTopologyZone, Values: []string{"zone-a"}}}}}
			}
			create(t, env.DR.Client, class)
		}
		testenv.EnsureNamespace(t, env.DR.Client, "app-dr")
		claim := func(name, class string, copy bool, annotations map[string]string) *corev1.PersistentVolumeClaim {
			c := pvc("app-dr", name, class, "1Gi", corev1.ReadWriteOnce, annotations)
			if copy {
				c.Labels[kube.LabelCopy] = kube.ManagedBy
			}
			return c
		}
		bound := claim("bound", "late", true, nil)
		bound.Spec.VolumeName = "pv-bound"
		for _, c := range []*corev1.PersistentVolumeClaim{
			claim("new", "late", true, nil), claim("immediate", "fast", true, nil), claim("not-a-copy", "late", false, nil),
			claim("preset", "preset", true, nil), claim("zoned", "zoned", true, nil), bound,
			claim("chosen", "late", true, map[string]string{selectedNode: "dr-b"}),
			claim("moved", "late", true, map[string]string{selectedNode: "dr-b", "dr-syncer.io/provisioned-ahead-on": "dr-b"}),
		} {
			create(t, env.DR.Client, c)
		}
		for name, want := range map[string]string{"new": "dr-a", "immediate": "", "not-a-copy": "", "preset": "", "zoned": "",
			"bound": "", "chosen": "dr-b", "moved": "dr-a", "gone": ""} {
			var ts testsuite.WorkflowTestSuite
			aenv := ts.NewTestActivityEnvironment()
			aenv.RegisterActivity(acts)
			v, err := aenv.ExecuteActivity(acts.ChooseNodes, contract.ChooseNodesInput{
				Source: contract.PVCRef{Cluster: source, Namespace: "app", Name: "rwo-idle"}, Destination: dr, TargetStorageClass: "late",
				TargetNamespace: "app-dr", TargetName: name})
			require.NoError(t, err, name)
			var plan contract.NodePlan
			require.NoError(t, v.Get(&plan))
			require.Equal(t, "dr-a", plan.Target.Node)
			if name == "gone" {
				continue
			}
			var got corev1.PersistentVolumeClaim
			require.NoError(t, env.DR.Client.Get(context.Background(), client.ObjectKey{Namespace: "app-dr", Name: name}, &got))
			assert.Equal(t, want, got.Annotations[selectedNode], name)
			if name == "new" || name == "moved" {
				assert.Equal(t, want, got.Annotations["dr-syncer.io/provisioned-ahead-on"], "%s: its own choice is recorded, so a later run can move it", name)
			}
		}
	})
}

// selectedNode is the annotation by which the scheduler, or ChooseNodes
// ahead of it, asks a claim's provisioner for a volume on a node.
const selectedNode = "volume.kubernetes.io/selected-node"

// attachment records driver's volume pv as attached to node.
func attachment(t *testing.T, c client.Client, node, driver, pv string) {
	t.Helper()
	create(t, c, &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{Name: "va-" + node + "-" + pv},
		Spec:       storagev1.VolumeAttachmentSpec{Attacher: driver, NodeName: node, Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &pv}},
	})
}

// csiNode registers driver on node; a count above zero is its attach limit.
func csiNode(t *testing.T, c client.Client, node, driver string, count int32) {
	t.Helper()
	d := storagev1.CSINodeDriver{Name: driver, NodeID: node}
	if count > 0 {
		d.Allocatable = &storagev1.VolumeNodeResources{Count: &count}
	}
	create(t, c, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{d}}})
}

func node(t *testing.T, c client.Client, name, ip, zone string, ready, cordoned bool) {
	t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelTopologyRegion: regionOf(zone), corev1.LabelTopologyZone: zone, corev1.LabelHostname: name,
			corev1.LabelOSStable: "linux",
		}},
		Spec: corev1.NodeSpec{Unschedulable: cordoned},
	}
	create(t, c, n)
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	require.NoError(t, c.Status().Update(context.Background(), n))
}

// allocatable sets what node offers pods.
func allocatable(t *testing.T, c client.Client, node, cpu, memory string) {
	t.Helper()
	var n corev1.Node
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Name: node}, &n))
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: *kubeQuantity(cpu), corev1.ResourceMemory: *kubeQuantity(memory)}
	require.NoError(t, c.Status().Update(context.Background(), &n))
}

// podRequesting is a pod bound to nodeName whose one container requests
// cpu and memory, in phase.
func podRequesting(t *testing.T, c client.Client, ns, name, nodeName, cpu, memory string, labels map[string]string, phase corev1.PodPhase) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: *kubeQuantity(cpu), corev1.ResourceMemory: *kubeQuantity(memory)}}}}},
	}
	create(t, c, p)
	p.Status.Phase = phase
	require.NoError(t, c.Status().Update(context.Background(), p))
}

func runningPod(t *testing.T, c client.Client, ns, name, nodeName, claim string) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			NodeName:   nodeName,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		},
	}
	create(t, c, p)
	p.Status.Phase = corev1.PodRunning
	require.NoError(t, c.Status().Update(context.Background(), p))
}

// bindVolume binds claim to a PV "pv-"+claim of source; a nodeName pins
// it to that node.
func bindVolume(t *testing.T, c client.Client, ns, claim string, source corev1.PersistentVolumeSource, nodeName string) {
	t.Helper()
	ctx := context.Background()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + claim},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: *kubeQuantity("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: source,
			StorageClassName:       "standard",
		},
	}
	if nodeName != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}}},
		}}}}
	}
	create(t, c, pv)
	var p corev1.PersistentVolumeClaim
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: claim}, &p))
	p.Spec.VolumeName = pv.Name
	require.NoError(t, c.Update(ctx, &p))
}

// regionOf puts zone-c in another region, so nothing in DR matches it.
func regionOf(zone string) string {
	if zone == "zone-c" {
		return "us-2"
	}
	return "eu-1"
}
