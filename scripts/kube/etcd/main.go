// Command etcd runs the etcd server of the required go.etcd.io/etcd/server/v3 release (what etcd's own main does).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
