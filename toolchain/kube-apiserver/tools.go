//go:build tools

// Package tools pins the kube-apiserver main package in this module's graph; it is never
// compiled. scripts/apiserver/build.sh runs `go build k8s.io/kubernetes/cmd/kube-apiserver` here.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
