import { describe, expect, it } from "vitest";
import { scratchStack, stepCounter } from "./engine";

// `pulumi preview` of the dev stack with no cluster and no Keycloak reachable: what a pull
// request's preview sees. The counts are the plan the unit tests pin, as the real engine plans it.
const COMMON = {
  "pulumi:pulumi:Stack": 1,
  "mcp-gateway-stack:gateway:Checkout": 1,
  "mcp-gateway-stack:cluster:KindCluster": 1,
  "mcp-gateway-stack:mcp:LocalMcpServer": 1,
  "mcp-gateway-stack:gateway:Listener": 1,
  "mcp-gateway-stack:mcp:ServerRoute": 1,
  "pulumi:providers:kubernetes": 1,
  "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1,
  "kubernetes:core/v1:Service": 1,
  "kubernetes:networking.istio.io/v1beta1:ServiceEntry": 1,
  "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
  "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer": 1,
};

describe("pulumi preview of the dev stack, offline", () => {
  it("plans use case 1: 4 local commands, 5 Kubernetes objects on one provider, no OIDC resource", async () => {
    const { stack } = await scratchStack();
    const creates = stepCounter("create");
    const result = await stack.preview({ onEvent: creates.onEvent });
    expect(creates.counts).toEqual({ ...COMMON, "command:local:Command": 4 });
    expect(result.changeSummary.create).toBe(19);
  });

  it("plans use case 2: adds the setup step, Keycloak client, 22 roles, group, mappings, AuthPolicy and binding", async () => {
    const { stack } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "admin", secret: true }, true);
    const creates = stepCounter("create");
    await stack.preview({ onEvent: creates.onEvent });
    expect(creates.counts).toEqual({
      ...COMMON,
      "command:local:Command": 5,
      "pulumi:providers:keycloak": 1,
      "mcp-gateway-stack:keycloak:ToolAccess": 1,
      "keycloak:openid/client:Client": 1,
      "keycloak:index/role:Role": 22,
      "keycloak:index/group:Group": 1,
      "keycloak:index/groupRoles:GroupRoles": 1,
      "keycloak:index/groupMemberships:GroupMemberships": 1,
      "mcp-gateway-stack:auth:ToolAuthPolicy": 1,
      "kubernetes:kuadrant.io/v1:AuthPolicy": 1,
      "mcp-gateway-stack:auth:OidcClusterAccess": 1,
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": 1,
    });
  });
});
