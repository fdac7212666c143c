// Command kube-controller-manager is the upstream kube-controller-manager, linked from the
// k8s.io/kubernetes module pinned in ../../go.mod. It accepts exactly the upstream flags
// (realapi.py runs it with --controllers=garbagecollector,namespace).
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"         // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/version" // version metrics, as upstream registers them
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
