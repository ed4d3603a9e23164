//go:build tools

// Package tools pins etcd's server main package (go.etcd.io/etcd/server/v3 is itself package main,
// a wrapper of etcdmain.Main) in this module's graph; it is never compiled. Its go.mod replaces
// the sibling etcd modules with ../, so `go install ...@version` is refused: this module requires
// them all at one version instead. testbed/apiserver/build.sh runs `go build go.etcd.io/etcd/server/v3` here.
package tools

import _ "go.etcd.io/etcd/server/v3"
