package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apivalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// crdValidator is a CRD's schema as the API server applies it on create:
// defaults, OpenAPI validation, then its CEL rules.
type crdValidator struct {
	kind       string
	structural *schema.Structural
	openAPI    apivalidation.SchemaValidator
	cel        *cel.Validator
}

func loadReplicationCRD(t testing.TB) *crdValidator {
	t.Helper()
	return loadCRD(t, "dr-syncer.io_replications.yaml")
}

// loadCRD reads deploy/crd/FILE.
func loadCRD(t testing.TB, file string) *crdValidator {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "crd", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	var props apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &props, nil); err != nil {
		t.Fatal(err)
	}
	structural, err := schema.NewStructural(&props)
	if err != nil {
		t.Fatal(err)
	}
	openAPI, _, err := apivalidation.NewSchemaValidator(&props)
	if err != nil {
		t.Fatal(err)
	}
	return &crdValidator{kind: crd.Spec.Names.Kind, structural: structural, openAPI: openAPI,
		cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}
}

// admit says whether the API server would store an object of the CRD's
// kind with this spec, and returns the spec as stored (defaults applied).
func (v *crdValidator) admit(spec map[string]any) (map[string]any, bool) {
	stored, errs := v.validate(spec)
	return stored, len(errs) == 0
}

// validate returns the spec as stored and what the API server would say
// against it: schema errors, else the CEL rules' errors.
func (v *crdValidator) validate(spec map[string]any) (map[string]any, []string) {
	obj := map[string]any{"apiVersion": "dr-syncer.io/v1alpha1", "kind": v.kind,
		"metadata": map[string]any{"name": "fuzz", "namespace": "team-a"}, "spec": spec}
	defaulting.Default(obj, v.structural)
	errs := apivalidation.ValidateCustomResource(nil, obj, v.openAPI)
	if len(errs) == 0 {
		errs, _ = v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	}
	stored, _ := obj["spec"].(map[string]any)
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return stored, out
}

// FuzzReplicationSpec runs Replication specs through the CRD's validation
// (schema and CEL, as the API server would) and through the Go validation
// and defaulting every run goes through (Plan). Neither may panic, and a
// spec the API server accepts must decode into the Go types and, when Plan
// accepts it too, give a plan whose basic invariants hold.
//
//	go test -run '^$' -fuzz '^FuzzReplicationSpec$' -fuzztime 10s ./internal/resolve
//
// A plain `go test` runs the seeds (deploy/samples and the cases below).
// The fuzzing binary instruments all of apiextensions-apiserver and CEL, so
// it takes minutes to build the first time and executes slowly.
func FuzzReplicationSpec(f *testing.F) {
	v := loadReplicationCRD(f)
	samples, err := os.ReadFile(filepath.Join("..", "..", "deploy", "samples", "replication.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, doc := range bytes.Split(samples, []byte("\n---\n")) {
		var r struct {
			Spec json.RawMessage `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &r); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(r.Spec))
	}
	for _, seed := range []string{
		`{"sourceCluster":"prod","destinationCluster":"prod","sourceNamespace":"shop"}`,
		`{"clusterMappingRef":{"name":"m"},"sourceCluster":"prod","sourceNamespace":"shop"}`,
		`{"clusterMappingRef":{"name":"m","namespace":"team-b"},"sourceNamespace":"shop"}`,
		`{"sourceCluster":"a","destinationCluster":"b","sourceNamespace":"s","pvcConfig":{"syncData":true,"dataSyncConfig":{"verificationMode":"sample","samplePercent":101,"timeout":"2x","hooks":{"freeze":{"command":["sync"]}}}}}`,
		`{"sourceCluster":"a","destinationCluster":"b","sourceNamespace":"s","deletionGuard":{"maxPercent":-1},"retryConfig":{"maxRetries":-3}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decoded as the API server does: whole numbers are int64.
		var raw map[string]any
		if utiljson.Unmarshal(data, &raw) != nil || raw == nil {
			return // not an object: the API server's decoder stops it before any schema
		}
		stored, admitted := v.admit(raw)
		var spec drv1.ReplicationSpec
		if admitted {
			b, err := json.Marshal(stored)
			if err != nil {
				t.Fatalf("re-encode admitted spec: %v", err)
			}
			if err := json.Unmarshal(b, &spec); err != nil {
				t.Fatalf("the API server admits %s, but the Go types do not decode it: %v", b, err)
			}
		} else if json.Unmarshal(data, &spec) != nil {
			return
		}
		plan, planErr := resolvedFor(spec).Plan() // must not panic, admitted or not
		_ = Settings(spec)
		if !admitted {
			return
		}
		byMapping := spec.ClusterMappingRef != nil
		byClusters := spec.SourceCluster != "" && spec.DestinationCluster != ""
		if byMapping == byClusters {
			t.Fatalf("admitted a spec that names clusters %d ways: %+v", btoi(byMapping)+btoi(byClusters), spec)
		}
		if planErr != nil {
			if _, ok := IsProblem(planErr); !ok {
				t.Fatalf("Plan's refusal is not a Problem for the user: %v", planErr)
			}
			return
		}
		switch {
		case plan.SourceNamespace == "" || plan.SourceNamespace != spec.SourceNamespace:
			t.Fatalf("plan copies namespace %q, spec names %q", plan.SourceNamespace, spec.SourceNamespace)
		case plan.DestinationNamespace == "":
			t.Fatalf("plan has no destination namespace: %+v", spec)
		case plan.Spec.DeletionGuard.MaxPercent < 0 || plan.Spec.DeletionGuard.MaxPercent > 100 || plan.Spec.DeletionGuard.MaxObjects < 0:
			t.Fatalf("deletion guard out of range: %+v", plan.Spec.DeletionGuard)
		case plan.Spec.RetryConfig.MaxRetries < 0:
			t.Fatalf("negative retries: %+v", plan.Spec.RetryConfig)
		case plan.Spec.PVCConfig.SyncData && plan.DataSync.Validate() != nil:
			t.Fatalf("plan carries a data sync config the data plane refuses: %v", plan.DataSync.Validate())
		}
	})
}

// resolvedFor is spec resolved between two RemoteClusters of its namespace.
func resolvedFor(spec drv1.ReplicationSpec) *Resolved {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "team-a", Name: name} }
	source, dest := &drv1.RemoteCluster{ObjectMeta: meta("prod")}, &drv1.RemoteCluster{ObjectMeta: meta("dr")}
	return &Resolved{Replication: &drv1.Replication{ObjectMeta: meta("fuzz"), Spec: spec}, Source: source, Destination: dest}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The fuzz harness means something only if it admits what a user may write
// and refuses what the CRD's CEL rules refuse.
func TestCRDValidatorAdmitsSamplesAndAppliesCEL(t *testing.T) {
	v := loadReplicationCRD(t)
	spec := func(s string) map[string]any {
		var m map[string]any
		if err := utiljson.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	samples, err := os.ReadFile(filepath.Join("..", "..", "deploy", "samples", "replication.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(samples, []byte("\n---\n")) {
		var r struct {
			Metadata struct{ Name string } `json:"metadata"`
			Spec     map[string]any        `json:"spec"`
		}
		// As the API server decodes: whole numbers are int64, not float64.
		if j, err := yaml.YAMLToJSON(doc); err != nil || utiljson.Unmarshal(j, &r) != nil {
			t.Fatalf("sample: %v", err)
		}
		if _, ok := v.admit(r.Spec); !ok {
			t.Errorf("sample Replication %s is refused", r.Metadata.Name)
		}
	}
	for _, refused := range []string{
		`{"clusterMappingRef":{"name":"m"},"sourceCluster":"prod","sourceNamespace":"shop"}`,                                                // CEL: mutually exclusive
		`{"sourceCluster":"prod","sourceNamespace":"shop"}`,                                                                                 // CEL: both clusters
		`{"sourceCluster":"a","destinationCluster":"b","sourceNamespace":"s","pvcConfig":{"dataSyncConfig":{"verificationMode":"sample"}}}`, // CEL: samplePercent
		`{"sourceCluster":"a","destinationCluster":"b","sourceNamespace":"s","deletionGuard":{"maxPercent":101}}`,                           // schema: maximum
	} {
		if _, ok := v.admit(spec(refused)); ok {
			t.Errorf("admitted %s", refused)
		}
	}
}
