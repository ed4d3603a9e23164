// Command pulumi-resource-kubernetes builds the Pulumi Kubernetes provider from its Go module.
//
// Why this file exists: upstream's cmd/pulumi-resource-kubernetes/main.go embeds
// schema-embed.json and terraform-mapping-embed.json, which its Makefile generates and which are
// not in the module zip, so `go build` of that package fails. The module zip does ship the
// committed schema.json and terraform-mapping.json: testbed/toolchain/build.sh copies them next
// to this file in a build directory (with the version set, as upstream's generate.go does), and
// this main serves them exactly as upstream's main does.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
