package csihostpath

import (
	"context"

	"go.uber.org/zap"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// supportedCSIVersions are the CSI versions announced to the kubelet; it
// speaks CSI 1.x and asks for a version it knows.
var supportedCSIVersions = []string{"1.0.0"}

// registration answers the kubelet's plugin watcher, which finds the
// registration socket in its plugins_registry directory, asks who is there
// (GetInfo), then reports whether it took the driver on. It does what the
// node-driver-registrar sidecar does for a driver in a pod.
type registration struct {
	registerapi.UnimplementedRegistrationServer
	driverName string
	endpoint   string // the CSI socket the kubelet is to call
	log        *zap.Logger
}

func newRegistration(driverName, endpoint string, log *zap.Logger) *registration {
	return &registration{driverName: driverName, endpoint: endpoint, log: log}
}

// GetInfo names the driver and the socket of its CSI services.
func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	r.log.Info("kubelet asked for the plugin info", zap.String("driver", r.driverName))
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.driverName,
		Endpoint:          r.endpoint,
		SupportedVersions: supportedCSIVersions,
	}, nil
}

// NotifyRegistrationStatus logs the kubelet's verdict. A refusal is only
// logged: the kubelet tries again when the socket is made again, which
// restarting the driver does.
func (r *registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if s.GetPluginRegistered() {
		r.log.Info("kubelet registered the driver", zap.String("driver", r.driverName))
	} else {
		r.log.Error("kubelet refused to register the driver; see the kubelet's log, fix the cause and restart the driver",
			zap.String("driver", r.driverName), zap.String("error", s.GetError()))
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}
