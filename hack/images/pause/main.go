// Command pause is the sandbox (pod infrastructure) container's process for our containerd: it
// holds the pod's namespaces open, reaps orphaned children (it is PID 1 in the pod) and exits on
// SIGTERM or SIGINT. Built static (CGO_ENABLED=0) by hack/setup/45-containerd.sh, so its image
// needs no base: containerd never pulls registry.k8s.io/pause here.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("kaito pause 1.0")
		return
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s == syscall.SIGCHLD {
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
