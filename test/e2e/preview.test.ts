import { describe, expect, it } from "vitest";
import { scratchStack, stepCounter } from "./engine";

// `pulumi preview` of the dev stack as shipped (kind mode, the guide's values) by the real engine
// and the real command, kubernetes and keycloak plugins, with nothing reachable: no cluster, no
// Keycloak, no make. Nothing runs in a preview; it is what a pull request shows.
const KIND_NO_AUTH = {
  "pulumi:pulumi:Stack": 1,
  "pulumi:providers:command": 1,
  "mcp-gateway-stack:gateway:Checkout": 1,
  "mcp-gateway-stack:cluster:KindCluster": 1,
  "command:local:Command": 4, // git checkout, make local-env-setup, kind get kubeconfig, the MCP server
  "pulumi:providers:kubernetes": 1,
  "mcp-gateway-stack:mcp:LocalMcpServer": 1,
  "mcp-gateway-stack:gateway:Listener": 1,
  "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1,
  "mcp-gateway-stack:mcp:ServerRoute": 1,
  "kubernetes:core/v1:Service": 1,
  "kubernetes:networking.istio.io/v1beta1:ServiceEntry": 1,
  "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
  "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer": 1,
};

describe("pulumi preview of the dev stack, offline, with every real plugin", () => {
  it("use case 1: the checkout, the Kind cluster, the MCP server process and the registration", async () => {
    const { stack } = await scratchStack();
    const creates = stepCounter("create");
    const result = await stack.preview({ onEvent: creates.onEvent, diff: true });
    expect(creates.counts).toEqual(KIND_NO_AUTH);
    // The diff a pull request shows: the guide's values.
    expect(result.stdout).toContain('toolPrefix: "kube_"');
    expect(result.stdout).toContain('externalName: "host.containers.internal"');
    expect(result.stdout).toMatch(/create\s+: "make local-env-setup"/);
    expect(result.stdout).toMatch(/delete\s+: "make local-env-teardown"/);
    expect(result.stdout).not.toContain("keycloakClientId");
  });

  it("use case 2: adds the token-exchange setup, the Keycloak objects, the AuthPolicy and the binding", async () => {
    const { stack } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "preview-admin-password", secret: true }, true);
    const creates = stepCounter("create");
    const result = await stack.preview({ onEvent: creates.onEvent, diff: true });
    expect(creates.counts).toEqual({
      ...KIND_NO_AUTH,
      "command:local:Command": 5,
      "pulumi:providers:keycloak": 1,
      "mcp-gateway-stack:keycloak:ToolAccess": 1,
      "keycloak:openid/client:Client": 1,
      "keycloak:index/role:Role": 22,
      "keycloak:index/group:Group": 1,
      "keycloak:index/groupMemberships:GroupMemberships": 1,
      "keycloak:index/groupRoles:GroupRoles": 1,
      "mcp-gateway-stack:auth:ToolAuthPolicy": 1,
      "kubernetes:kuadrant.io/v1:AuthPolicy": 1,
      "mcp-gateway-stack:auth:OidcClusterAccess": 1,
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": 1,
    });
    expect(result.stdout).toContain("keycloakClientId");
    expect(result.stdout).toMatch(/name\s+: "https:\/\/keycloak\.127-0-0-1\.sslip\.io:8002\/realms\/mcp#mcp"/);
    expect(result.stdout).not.toContain("preview-admin-password");
  });
});
