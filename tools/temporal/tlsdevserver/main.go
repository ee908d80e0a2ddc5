// Command tlsdevserver runs a single-process Temporal server whose frontend
// speaks TLS, optionally requiring client certificates (mTLS). It exists
// because `temporal server start-dev` has no TLS flags, and dr-syncer's
// Temporal TLS options must be tested against a server that really
// terminates TLS in the frontend, not a proxy in front of it. It is a test
// tool: in-memory SQLite, one shard, no UI, no archival.
//
//	tlsdevserver --port 7233 --cert server.pem --key server-key.pem --server-ca ca.pem \
//	  [--client-ca ca.pem --worker-cert client.pem --worker-key client-key.pem]
//
// `make tools` (hack/tools.sh) builds it next to the temporal CLI; its cache
// is keyed by this module's go.mod and go.sum, so after editing this file
// run `go build -o "$DRSYNCER_BIN/" ./tlsdevserver` here, or change go.mod.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const (
	ip          = "127.0.0.1"
	clusterName = "active"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tlsdevserver:", err)
		os.Exit(1)
	}
}

func run() error {
	port := flag.Int("port", 7233, "frontend gRPC port on 127.0.0.1")
	cert := flag.String("cert", "", "frontend server certificate (PEM); required")
	key := flag.String("key", "", "frontend server key (PEM); required")
	clientCA := flag.String("client-ca", "", "CA that signs client certificates; when set, clients must present one (mTLS)")
	workerCert := flag.String("worker-cert", "", "client certificate of the server's own system worker (needed with --client-ca)")
	workerKey := flag.String("worker-key", "", "key of --worker-cert")
	serverCA := flag.String("server-ca", "", "CA that signed --cert, trusted by the system worker")
	serverName := flag.String("server-name", "localhost", "name in --cert the system worker verifies")
	logLevel := flag.String("log-level", "error", "server log level")
	flag.Parse()
	if *cert == "" || *key == "" || *serverCA == "" {
		return fmt.Errorf("--cert, --key and --server-ca are required")
	}

	conf, err := serverConfig(*port)
	if err != nil {
		return err
	}
	conf.Global.TLS = config.RootTLS{
		Frontend: config.GroupTLS{Server: config.ServerTLS{CertFile: *cert, KeyFile: *key}},
		SystemWorker: config.WorkerTLS{CertFile: *workerCert, KeyFile: *workerKey,
			Client: config.ClientTLS{ServerName: *serverName, RootCAFiles: []string{*serverCA}}},
	}
	if *clientCA != "" {
		conf.Global.TLS.Frontend.Server.ClientCAFiles = []string{*clientCA}
		conf.Global.TLS.Frontend.Server.RequireClientAuth = true
	}

	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{Level: *logLevel, Format: "console"}))
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return err
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return err
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	server, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{}),
	)
	if err != nil {
		return fmt.Errorf("build server: %w", err)
	}
	if err := server.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	server.Stop()
	return nil
}

// serverConfig is a one-host cluster on 127.0.0.1 with an in-memory SQLite
// store holding the "default" namespace.
func serverConfig(frontendPort int) (*config.Config, error) {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = ip
	sqlConf := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		DatabaseName:      strconv.Itoa(rand.Intn(1 << 30)),
	}
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	frontend := net.JoinHostPort(ip, strconv.Itoa(frontendPort))
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             frontend,
			HTTPAddress:            net.JoinHostPort(ip, strconv.Itoa(httpPort)),
			ClusterID:              "tlsdevserver",
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = ip
		if name == "frontend" {
			svc.RPC.GRPCPort, svc.RPC.HTTPPort = frontendPort, httpPort
		} else if svc.RPC.GRPCPort, err = freePort(); err != nil {
			return nil, err
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, "default", false, nil)
	if err != nil {
		return nil, fmt.Errorf("namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("create namespace default: %w", err)
	}
	return &conf, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
