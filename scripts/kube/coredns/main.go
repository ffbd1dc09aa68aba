// Command coredns is CoreDNS from the pinned release with only the plugins the test cluster's Corefile uses
// (errors, log, health, ready, bind, cache, kubernetes, loadbalance), so the build leaves out every cloud backend.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	"github.com/coredns/coredns/coremain"
)

// The directives in CoreDNS's own order (core/dnsserver/zdirectives.go), cut to the plugins linked in above:
// the order decides which plugin sees a query first, so it must stay a subsequence of upstream's.
func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
