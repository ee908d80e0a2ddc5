package starter

import (
	"context"
	"strings"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
)

// MetricTemporalCalls counts every call a Starter's client makes to the
// Temporal frontend, tagged by gRPC method (QueryWorkflow,
// DescribeWorkflowExecution, ...). Through the controller's metrics scope
// it is drsyncer_controller_temporal_calls_total{method="..."}: the
// controller's load on Temporal, per poll and per running Replication.
const MetricTemporalCalls = "temporal_calls"

// CountCalls is a gRPC client interceptor that counts each call in metrics
// under MetricTemporalCalls, by method; a nil handler counts nothing.
func CountCalls(metrics client.MetricsHandler) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if metrics != nil {
			metrics.WithTags(map[string]string{"method": method[strings.LastIndex(method, "/")+1:]}).Counter(MetricTemporalCalls).Inc(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
