// Command canary-controlplane is one binary holding a real Kubernetes control plane for canary-console's
// tests, built from the upstream modules pinned in go.mod. It dispatches busybox-style on the name it was
// called by (argv[0]) or on its first argument:
//
//	serve DIR [flags]        etcd (embedded) + kube-apiserver + kube-controller-manager + a node emulator
//	kube-apiserver ...       upstream kube-apiserver command, unchanged (run by serve as a child process)
//	kube-controller-manager  upstream kube-controller-manager command, unchanged (child of serve)
//	kubectl ...              upstream kubectl (DIR/kubectl is a symlink to this binary)
//	compact ENDPOINT         compacts etcd at its current revision (lets a test make watches fall behind)
//
// The apiserver and the controller manager run as child processes of serve, each with its own flags and
// globals exactly as in a cluster, because both upstream commands own process-wide state (signal handler,
// feature gates, component registry) that cannot be set up twice in one process.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name != "kubectl" && name != "kube-apiserver" && name != "kube-controller-manager" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "usage: canary-controlplane serve DIR | kubectl ... | kube-apiserver ... | kube-controller-manager ... | compact ENDPOINT")
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	// The upstream commands read os.Args themselves (cobra, kubectl's plugin handling).
	os.Args = append([]string{name}, args...)
	switch name {
	case "serve":
		os.Exit(serve(args))
	case "compact":
		os.Exit(compact(args))
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kubectl":
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) // nolint:errcheck
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
	default:
		fmt.Fprintf(os.Stderr, "canary-controlplane: unknown command %q\n", name)
		os.Exit(2)
	}
}
