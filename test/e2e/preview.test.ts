import { describe, expect, it } from "vitest";
import { scratchStack, stepCounter, unreachableKubeconfig, useKubernetesOnlyGraph } from "./engine";

// `pulumi preview` by the real engine with no cluster reachable. Only the graph that needs no
// command or keycloak plugin can be planned here (those plugins cannot be built from the Go
// module proxy): use case 1's registration on an existing cluster, with a server the user runs.
describe("pulumi preview with the real engine, offline", () => {
  it("plans use case 1's registration: one provider and the five Kubernetes objects", async () => {
    const { stack } = await scratchStack();
    await useKubernetesOnlyGraph(stack, unreachableKubeconfig("preview-token"));
    const creates = stepCounter("create");
    const result = await stack.preview({ onEvent: creates.onEvent, diff: true });
    expect(creates.counts).toEqual({
      "pulumi:pulumi:Stack": 1,
      "mcp-gateway-stack:cluster:KindCluster": 1,
      "pulumi:providers:kubernetes": 1,
      "mcp-gateway-stack:gateway:Listener": 1,
      "mcp-gateway-stack:mcp:ServerRoute": 1,
      "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1,
      "kubernetes:core/v1:Service": 1,
      "kubernetes:networking.istio.io/v1beta1:ServiceEntry": 1,
      "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
      "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer": 1,
    });
    expect(result.changeSummary).toEqual({ create: 10 });
    // The diff a pull request shows: the guide's values, the kubeconfig hidden.
    expect(result.stdout).toContain('toolPrefix: "kube_"');
    expect(result.stdout).toContain('externalName: "host.containers.internal"');
    expect(result.stdout).not.toContain("preview-token");
  });

  it("shows no keycloakClientId output and no warning about it in use case 1", async () => {
    const { stack } = await scratchStack();
    await useKubernetesOnlyGraph(stack, unreachableKubeconfig("t"));
    const result = await stack.preview();
    expect(result.stdout).toContain("mcpGatewayUrl");
    expect(result.stdout).not.toContain("keycloakClientId");
  });
});
