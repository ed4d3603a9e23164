/** The plans the real engine is expected to make, as resource counts per type. */
import { GUIDE_TOOLS } from "../../components/tools";

/** Use case 1 on an existing cluster, with the kubernetes-mcp-server the stack starts. */
export const NO_AUTH_PLAN: Record<string, number> = {
  "pulumi:pulumi:Stack": 1,
  "pulumi:providers:command": 1,
  "mcp-gateway-stack:cluster:GatewayCluster": 1,
  "pulumi:providers:kubernetes": 1,
  "mcp-gateway-stack:mcp:ClusterMcpServer": 1, // the server, listener and registration of one cluster
  "mcp-gateway-stack:mcp:LocalMcpServer": 1,
  "command:local:Command": 1, // the MCP server process
  "mcp-gateway-stack:gateway:Listener": 1,
  "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1,
  "mcp-gateway-stack:mcp:ServerRoute": 1,
  "kubernetes:core/v1:Service": 1,
  "kubernetes:networking.istio.io/v1beta1:ServiceEntry": 1,
  "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
  "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer": 1,
};

/** Use case 1 in kind mode (the dev stack): the checkout and the Kind cluster's make steps too. */
export const KIND_NO_AUTH_PLAN: Record<string, number> = {
  ...NO_AUTH_PLAN,
  "mcp-gateway-stack:gateway:Checkout": 1,
  "command:local:Command": 4, // git checkout, make local-env-setup, kind get kubeconfig, the MCP server
};

/** The resources use case 2 adds besides its local commands. */
export const OIDC_RESOURCES: Record<string, number> = {
  "mcp-gateway-stack:gateway:TokenExchangeSetup": 1,
  // the gateway client's new secret, in Keycloak (a command) and in the token-exchange Secret
  "mcp-gateway-stack:keycloak:GatewayClientSecret": 1,
  "kubernetes:core/v1:SecretPatch": 1,
  "pulumi:providers:keycloak": 1,
  "mcp-gateway-stack:keycloak:ToolAccess": 1,
  "keycloak:openid/client:Client": 1,
  "keycloak:index/role:Role": GUIDE_TOOLS.length, // one per tool the guide grants
  "keycloak:index/group:Group": 1,
  "keycloak:index/groupMemberships:GroupMemberships": 1,
  "keycloak:index/groupRoles:GroupRoles": 1,
  "mcp-gateway-stack:auth:ToolAuthPolicy": 1,
  "kubernetes:kuadrant.io/v1:AuthPolicy": 1,
  "mcp-gateway-stack:auth:OidcClusterAccess": 1,
  "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": 1,
};

/** What switching an existing-cluster stack to oidc adds: also the checkout and three commands. */
export const OIDC_ADDS: Record<string, number> = {
  ...OIDC_RESOURCES,
  "mcp-gateway-stack:gateway:Checkout": 1,
  "command:local:Command": 3, // the checkout, the token-exchange setup, the client secret's regeneration
};

/** What use case 3 adds once, whatever the number of further clusters: `sub` in realm mcp's tokens. */
export const CROSS_DOMAIN_ONCE: Record<string, number> = {
  "mcp-gateway-stack:keycloak:GatewaySubject": 1,
  "keycloak:openid/subProtocolMapper:SubProtocolMapper": 1,
};

/**
 * What use case 3 adds per further cluster: use case 1's resources but the stack itself (its
 * cluster, server, listener and registration), and the OIDC resources of its own domain.
 */
export const CROSS_DOMAIN_PER_CLUSTER: Record<string, number> = sumPlans(
  without(NO_AUTH_PLAN, "pulumi:pulumi:Stack", "pulumi:providers:command"),
  {
    "mcp-gateway-stack:auth:OidcClusterAccess": 1,
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": 1,
    "mcp-gateway-stack:auth:ToolAuthPolicy": 1,
    "kubernetes:kuadrant.io/v1:AuthPolicy": 1,
    "kubernetes:core/v1:Secret": 1, // the grant client's credentials
    // the trust: realm mcp's audience client and role, realm b's provider, grant client and user
    "mcp-gateway-stack:keycloak:DomainTrust": 1,
    "keycloak:oidc/identityProvider:IdentityProvider": 1,
    "keycloak:index/user:User": 1,
    // clients: the audience, the grant client, the server's; roles: the audience's and one per tool
    "keycloak:openid/client:Client": 3,
    "keycloak:index/role:Role": 1 + GUIDE_TOOLS.length,
    "keycloak:index/groupRoles:GroupRoles": 2,
    "mcp-gateway-stack:keycloak:ToolAccess": 1,
    "keycloak:index/group:Group": 1,
    "keycloak:index/groupMemberships:GroupMemberships": 1,
  },
);

/** A plan without some types. */
function without(plan: Record<string, number>, ...types: string[]): Record<string, number> {
  return Object.fromEntries(Object.entries(plan).filter(([type]) => !types.includes(type)));
}

/** Resource counts of several plans together. */
export function sumPlans(...plans: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const plan of plans) for (const [type, n] of Object.entries(plan)) sum[type] = (sum[type] ?? 0) + n;
  return sum;
}
