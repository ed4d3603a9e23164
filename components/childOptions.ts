import type * as pulumi from "@pulumi/pulumi";

/**
 * The options of a component's child: the component as parent, its dependsOn, and `more`.
 *
 * The engine records a component's dependsOn on the component alone: a child without it would be
 * created before, and deleted after, what its component waits for (the MCP server process, the
 * setup step that configures Keycloak). Every component builds its children's options here.
 */
export function childOptions(
  component: pulumi.ComponentResource,
  componentOpts: pulumi.ComponentResourceOptions | undefined,
  more: Omit<pulumi.CustomResourceOptions, "parent" | "dependsOn"> = {},
): pulumi.CustomResourceOptions {
  return { ...more, parent: component, dependsOn: componentOpts?.dependsOn };
}
