// The Kubernetes provider's plugin binary, built from its published module.
//
// The module's own main package embeds two files its release build generates
// (schema-embed.json, terraform-mapping-embed.json) that the module zip does
// not hold; engine/build.sh generates them from the module's schema.json and
// terraform-mapping.json beside this file, and this main serves them.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
