// Command etcd is the etcd v3.6 server, built here because etcd's own main
// module carries replace directives and cannot be installed from the proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
