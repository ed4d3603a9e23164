//go:build tools

// Package tools pins the kube-apiserver and kube-controller-manager main packages in this module's
// graph; it is never compiled. testbed/apiserver/build.sh runs `go build` of both here, so they
// share one module graph and the Go build cache (the controller-manager costs only its own packages).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
