package starter

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"google.golang.org/grpc"

	"github.com/dr-syncer/dr-syncer/internal/temporalconn"
)

// Connect dials Temporal with the options every binary takes and returns a
// Starter whose DataConverter is the one its client was built with, so the
// run state it decodes itself (a describe call's heartbeats) reads when the
// payload codec is on. Every call the client makes is counted in metrics
// (MetricTemporalCalls). Close the Starter's Client when done.
func Connect(o temporalconn.Options, logger log.Logger, metrics client.MetricsHandler) (*Starter, error) {
	if metrics != nil {
		o.DialOptions = append(append([]grpc.DialOption(nil), o.DialOptions...), grpc.WithChainUnaryInterceptor(CountCalls(metrics)))
	}
	c, dc, err := o.Connect(logger, metrics)
	if err != nil {
		return nil, err
	}
	return &Starter{Client: c, Namespace: o.Namespace, TaskQueue: o.TaskQueue, DataConverter: dc}, nil
}
