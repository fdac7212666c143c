// Command kube-apiserver is the upstream kube-apiserver, linked from the k8s.io/kubernetes module
// pinned in ../../go.mod. It accepts exactly the upstream flags.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"         // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/version" // version metrics, as upstream registers them
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
