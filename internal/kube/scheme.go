package kube

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// NewScheme knows the built-in kinds and dr-syncer's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(drv1.AddToScheme(s))
	return s
}
