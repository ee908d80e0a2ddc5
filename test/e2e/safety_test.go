//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabDRCopySafety runs whole Replication runs in the lab (real worker,
// real pods, rsync over SSH) from a synced DR copy through the accidents a
// prod cluster has, and checks by checksum that the DR copy survives each,
// unless the test's own acceptance let the change through.
func TestLabDRCopySafety(t *testing.T) {
	t.Parallel() // beside the other PVC sync tests: see agentSlot
	e := setupPVCSync(t)
	s := newSafetyEnv(t, e)
	want := map[string]string{"rwo": e.sourceChecksums(t, "app", "/data")}
	filler := e.fillerChecksums(t, "rwx", "cold")
	want["rwx"], want["cold"] = filler["rwx"], filler["cold"]
	copyIntact := func(t *testing.T, names ...string) {
		t.Helper()
		for _, n := range names {
			if got := e.drChecksums(t, n); got != want[n] {
				t.Errorf("DR copy of %s changed\nbefore:\n%s\nnow:\n%s", n, want[n], got)
			}
		}
	}

	if _, err := s.sync(t, s.main, "first"); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	copyIntact(t, "rwo", "rwx", "cold")
	e.assertNothingLeft(t)

	t.Run("HelmLabelsArriveUnchanged", func(t *testing.T) {
		for _, kind := range []string{"deployment", "service"} {
			var obj metav1.PartialObjectMetadata
			if err := json.Unmarshal([]byte(kubectl(t, e.dr, "", "-n", e.dstNS, "get", kind, "web", "-o", "json")), &obj); err != nil {
				t.Fatal(err)
			}
			got := []string{obj.Labels["app.kubernetes.io/managed-by"], obj.Annotations["meta.helm.sh/release-name"],
				obj.Annotations["meta.helm.sh/release-namespace"], obj.Labels[kube.LabelCopy]}
			if want := []string{"Helm", "web", e.srcNS, kube.ManagedBy}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("DR %s web: managed-by, release name, release namespace, dr-syncer's mark = %q, want %q", kind, got, want)
			}
		}
	})

	t.Run("IgnoreLabelReleasesTheCopy", func(t *testing.T) {
		kubectl(t, e.prod, "", "-n", e.srcNS, "label", "configmap", "settings", drv1.LabelIgnore+"=true")
		kubectl(t, e.prod, "", "-n", e.srcNS, "patch", "configmap", "settings", "-p", `{"data":{"level":"changed"}}`)
		if _, err := s.sync(t, s.main, "ignored"); err != nil {
			t.Fatalf("sync: %v", err)
		}
		if got := kubectl(t, e.dr, "", "-n", e.dstNS, "get", "configmap", "settings", "-o", "jsonpath={.data.level}"); got != "original" {
			t.Errorf("the released copy was updated to %q", got)
		}
	})

	t.Run("MassDeletionIsHeldUntilAccepted", func(t *testing.T) {
		for i := 0; i < 24; i++ {
			kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "configmap", fmt.Sprintf("cm-%02d", i))
		}
		res, err := s.sync(t, s.main, "mass")
		s.wantHeld(t, err, contract.ErrTypeDeletionGuard, "would delete 24 of the")
		if res.Resources == nil || res.Resources.DeletionGuard == nil || res.Resources.DeletionGuard.Deletions != 24 {
			t.Errorf("deletion guard result %+v, want 24 deletions held", res.Resources)
		}
		if n := s.drConfigMaps(t, "cm-"); n != 30 {
			t.Errorf("DR holds %d of the 30 cm-* ConfigMaps after a held mass deletion, want all", n)
		}
		s.accept(t, s.main, "mass-1")
		if _, err := s.sync(t, s.main, "mass-accepted"); err != nil {
			t.Fatalf("accepted sync: %v", err)
		}
		if n := s.drConfigMaps(t, "cm-"); n != 6 {
			t.Errorf("DR holds %d cm-* ConfigMaps after the accepted run, want the 6 whose source stayed", n)
		}
		s.accept(t, s.main, "")
		copyIntact(t, "rwo")
	})

	t.Run("DeletedSourcePVCKeepsItsCopy", func(t *testing.T) {
		kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "pvc", "cold", "--wait=true", "--timeout=60s")
		res, err := s.sync(t, s.main, "cold-deleted")
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		if st := objectState(res, "PersistentVolumeClaim", "cold"); st.State != contract.StateSourceDeleted {
			t.Errorf("status of PVC cold = %+v, want SourceDeleted", st)
		}
		volume := kubectl(t, e.dr, "", "-n", e.dstNS, "get", "pvc", "cold", "-o", "jsonpath={.spec.volumeName}")
		if _, err := tryKubectl(e.dr, "", "get", "pv", volume); err != nil {
			t.Errorf("the DR PV %s of PVC cold is gone: %v", volume, err)
		}
		copyIntact(t, "cold")
	})

	t.Run("RecreatedEmptySourceIsRefusedUntilAccepted", func(t *testing.T) {
		e.fillPVC(t, e.srcNS, "cold", "true") // a new, empty claim of the same name
		res, err := s.sync(t, s.main, "cold-recreated")
		s.wantHeld(t, err, contract.ErrTypeSourceReplaced, "PVC "+e.srcNS+"/cold", "re-created", "dr-syncer.io/accept-changes")
		if o := pvcOutcome(res, "cold"); o.ErrorType != contract.ErrTypeSourceReplaced {
			t.Errorf("PVC cold outcome %+v, want SourceReplaced", o)
		}
		copyIntact(t, "cold")
		e.assertNothingLeft(t)

		s.accept(t, s.main, "cold-1")
		if _, err := s.sync(t, s.main, "cold-accepted"); err != nil {
			t.Fatalf("accepted sync: %v", err)
		}
		s.accept(t, s.main, "")
		if got, src := e.drChecksums(t, "cold"), e.sourceChecksums(t, "fill-cold", "/data"); got != src {
			t.Errorf("after acceptance the DR copy should follow the new claim\nsource:\n%s\ndr:\n%s", src, got)
		}
		want["cold"] = e.drChecksums(t, "cold")
	})

	t.Run("EmptiedSourceIsRefused", func(t *testing.T) {
		e.exec(t, e.prod, e.srcNS, "app", "rm -rf /data/* /data/.[!.]*; true")
		res, err := s.sync(t, s.main, "rwo-emptied")
		s.wantHeld(t, err, contract.ErrTypeSourceShrank, "the source holds 0 files")
		if o := pvcOutcome(res, "rwo"); o.ErrorType != contract.ErrTypeSourceShrank {
			t.Errorf("PVC rwo outcome %+v, want SourceShrank", o)
		}
		copyIntact(t, "rwo", "rwx")
		e.assertNothingLeft(t)
	})

	t.Run("SecondReplicationToTheSamePVCIsAConflict", func(t *testing.T) {
		other := testNamespace(t, "drs-e2e-other", e.prod)
		e.fillPVC(t, other, "rwx", "echo other > /data/other")
		intruder := s.replication(t, "intruder", other, e.dstNS, []string{"persistentvolumeclaims"})
		res, err := s.sync(t, intruder, "1")
		s.wantHeld(t, err, contract.ErrTypeConflict, "belongs to Replication "+e.controlNS+"/safety")
		if o := pvcOutcome(res, "rwx"); o.ErrorType != contract.ErrTypeConflict {
			t.Errorf("PVC rwx outcome %+v, want Conflict", o)
		}
		copyIntact(t, "rwx")
	})

	t.Run("PreexistingDRPVCIsAConflict", func(t *testing.T) {
		theirs := testNamespace(t, "drs-e2e-theirs", e.dr)
		kubectl(t, e.dr, fmt.Sprintf(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: rwx}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: owner}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: %s, imagePullPolicy: Never, command: [bash, -c, 'sleep infinity'], volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: rwx}}]
`, lab.ImageBase), "-n", theirs, "apply", "-f", "-")
		waitReady(t, e.dr, theirs, "owner")
		e.exec(t, e.dr, theirs, "owner", "echo mine > /data/mine")
		before := e.exec(t, e.dr, theirs, "owner", checksumTree, "/data")
		adopter := s.replication(t, "adopter", e.srcNS, theirs, []string{"configmaps"})
		res, err := s.sync(t, adopter, "1")
		s.wantHeld(t, err, contract.ErrTypeConflict, "not created by dr-syncer")
		if o := pvcOutcome(res, "rwx"); o.ErrorType != contract.ErrTypeConflict {
			t.Errorf("PVC rwx outcome %+v, want Conflict", o)
		}
		if after := e.exec(t, e.dr, theirs, "owner", checksumTree, "/data"); after != before {
			t.Errorf("a PVC dr-syncer did not create was written\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("DeletedSourceNamespaceDeletesNothing", func(t *testing.T) {
		before := s.drConfigMaps(t, "")
		kubectl(t, e.prod, "", "delete", "namespace", e.srcNS, "--wait=true", "--timeout=120s")
		if _, err := s.sync(t, s.main, "namespace-deleted"); err == nil {
			t.Errorf("a sync of a deleted source namespace completed; it must stop and say why")
		} else if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("sync error %v, want it to say the source namespace does not exist", err)
		}
		if after := s.drConfigMaps(t, ""); after != before {
			t.Errorf("DR ConfigMaps went from %d to %d", before, after)
		}
		for _, kind := range []string{"deployment/web", "service/web", "pvc/rwo", "pvc/rwx", "pvc/cold"} {
			if _, err := tryKubectl(e.dr, "", "-n", e.dstNS, "get", kind); err != nil {
				t.Errorf("DR %s is gone: %v", kind, err)
			}
		}
		copyIntact(t, "rwo", "rwx", "cold")
	})
}

// safetyEnv runs whole Replication runs against the PVC sync lab setup.
type safetyEnv struct {
	e       *pvcSyncEnv
	control ctrlclient.Client
	main    *drv1.Replication
}

// newSafetyEnv adds to the source namespace what the scenarios need (30
// ConfigMaps to delete, one to ignore, a Helm-labelled Deployment and
// Service) and the Replication "safety" from it into the DR namespace.
func newSafetyEnv(t *testing.T, e *pvcSyncEnv) *safetyEnv {
	t.Helper()
	control, err := ctrlclient.New(e.dr.Config, ctrlclient.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	s := &safetyEnv{e: e, control: control}

	var manifests []string
	for i := 0; i < 30; i++ {
		manifests = append(manifests, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%02d}\ndata: {n: \"%d\"}", i, i))
	}
	helm := fmt.Sprintf(`labels: {app.kubernetes.io/managed-by: Helm, app: web}
  annotations: {meta.helm.sh/release-name: web, meta.helm.sh/release-namespace: %s}`, e.srcNS)
	manifests = append(manifests, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: original}",
		fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  %s
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: %s, imagePullPolicy: Never, command: [sleep, infinity]}]}`, helm, lab.ImageBase),
		fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web
  %s
spec: {selector: {app: web}, ports: [{port: 80}]}`, helm))
	kubectl(t, e.prod, strings.Join(manifests, "\n---\n"), "-n", e.srcNS, "apply", "-f", "-")
	s.main = s.replication(t, "safety", e.srcNS, e.dstNS, []string{"configmaps", "deployments", "services", "persistentvolumeclaims"})
	return s
}

// replication creates a Manual Replication prod/src -> dr/dst that syncs
// PVC data and the kinds listed.
func (s *safetyEnv) replication(t *testing.T, name, src, dst string, kinds []string) *drv1.Replication {
	t.Helper()
	retries := int32(2)
	r := &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: s.e.controlNS, Name: name}, Spec: drv1.ReplicationSpec{
		SourceCluster: lab.Prod, DestinationCluster: lab.DR, SourceNamespace: src, DestinationNamespace: dst,
		ReplicationMode: drv1.ModeManual, ResourceTypes: kinds,
		PVCConfig:   &drv1.PVCConfig{SyncData: true, StorageClassMappings: []drv1.Mapping{{From: "standard", To: "fast"}}},
		RetryConfig: &drv1.RetryConfig{MaxRetries: &retries, InitialBackoff: "1s", MaxBackoff: "5s"},
	}}
	mustCreate(t, s.control, r)
	return r
}

// sync runs one Replication run to its end and returns its result, from
// the failure's details when it failed.
func (s *safetyEnv) sync(t *testing.T, r *drv1.Replication, trigger string) (contract.ReplicationResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ref := contract.ObjectRef{Namespace: r.Namespace, Name: r.Name}
	run, err := s.e.tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.ReplicationWorkflowID(r.Namespace, r.Name, trigger), TaskQueue: s.e.tp.TaskQueue,
	}, contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: trigger})
	if err != nil {
		t.Fatalf("start %s: %v", trigger, err)
	}
	var res contract.ReplicationResult
	err = run.Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run %s did not end in time", trigger)
	}
	return res, err
}

// wantHeld checks that a run failed with the guard errType and that its
// message says what it must.
func (s *safetyEnv) wantHeld(t *testing.T, err error, errType string, says ...string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("run ended with %v, want a %s failure", err, errType)
	}
	if appErr.Type() != errType {
		t.Errorf("run failed with type %s (%v), want %s", appErr.Type(), err, errType)
	}
	for _, want := range says {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("run failure %q does not say %q", err, want)
		}
	}
}

// accept sets (or, with "", removes) the accept-changes annotation; no
// controller runs here to mark a value handled, so the test removes it.
func (s *safetyEnv) accept(t *testing.T, r *drv1.Replication, value string) {
	t.Helper()
	arg := drv1.AnnotationAcceptChanges + "=" + value
	if value == "" {
		arg = drv1.AnnotationAcceptChanges + "-"
	}
	kubectl(t, s.e.dr, "", "-n", r.Namespace, "annotate", "--overwrite", "replication.dr-syncer.io/"+r.Name, arg)
}

// drConfigMaps counts the DR namespace's ConfigMaps whose name starts with prefix.
func (s *safetyEnv) drConfigMaps(t *testing.T, prefix string) int {
	t.Helper()
	list, err := s.e.drCS.CoreV1().ConfigMaps(s.e.dstNS).List(context.Background(), metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	n := 0
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, prefix) && cm.Name != "kube-root-ca.crt" {
			n++
		}
	}
	return n
}

func objectState(res contract.ReplicationResult, kind, name string) contract.ObjectStatus {
	if res.Resources != nil {
		for _, o := range res.Resources.Resources {
			if o.Kind == kind && o.Name == name {
				return o
			}
		}
	}
	return contract.ObjectStatus{}
}

func pvcOutcome(res contract.ReplicationResult, pvc string) contract.PVCOutcome {
	for _, p := range res.PVCs {
		if p.PVC == pvc {
			return p
		}
	}
	return contract.PVCOutcome{}
}
