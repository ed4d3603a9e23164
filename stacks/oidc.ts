import { GatewayClientSecret } from "../components/gatewayClientSecret";
import { RELEASE_FACTS } from "../components/gatewayRelease";
import { KeycloakToolAccess } from "../components/keycloakToolAccess";
import { OidcClusterAccess } from "../components/oidcClusterAccess";
import { TokenExchangeSetup } from "../components/tokenExchangeSetup";
import { ToolAuthPolicy } from "../components/toolAuthPolicy";
import { issuerUrl, type OidcConfig, type StackConfig } from "./config";
import { buildNoAuth, resourceMetadataUrl, type NoAuthStack } from "./noAuth";

/** Use case 2 (OIDC): use case 1 plus Keycloak access, the AuthPolicy and the ClusterRoleBinding. */
export interface OidcStack extends NoAuthStack {
  tokenExchange: TokenExchangeSetup;
  gatewayClientSecret: GatewayClientSecret;
  access: KeycloakToolAccess;
  authPolicy: ToolAuthPolicy;
  clusterAccess: OidcClusterAccess;
}

/** Where Authorino reads the secrets an AuthPolicy names (where the make target puts `token-exchange`). */
export const AUTHORINO_NAMESPACE = "kuadrant-system";

export function buildOidc(cfg: StackConfig, projectDir?: string): OidcStack {
  const kc = cfg.keycloak;
  const oidc: OidcConfig | undefined = cfg.oidc;
  if (!kc || !oidc) throw new Error("buildOidc: the config has no keycloak/oidc section (useCase is not 'oidc')");
  const base = buildNoAuth(cfg, projectDir);
  const { checkout, cluster, registration } = base;
  const release = RELEASE_FACTS[cfg.gateway.release];
  if (!checkout) throw new Error("buildOidc: the token-exchange example needs the MCP Gateway checkout");

  const tokenExchange = new TokenExchangeSetup(
    "oauth-token-exchange",
    { dir: checkout.dir, makeTarget: release.tokenExchangeTarget, kubeconfig: cluster.kubeconfig },
    { dependsOn: cluster.setup ? [cluster.setup] : [] },
  );

  const onCluster = { providers: [cluster.provider] };
  // The setup step's Secret holds the realm import's well-known `mcp-gateway:secret`: replace both.
  const gatewayClientSecret = new GatewayClientSecret(
    "mcp-gateway-client-secret",
    {
      admin: kc,
      realm: kc.realm,
      setup: tokenExchange.step,
      secretNamespace: AUTHORINO_NAMESPACE,
      secretName: oidc.tokenExchangeSecret,
    },
    { ...onCluster, dependsOn: [tokenExchange.step] },
  );

  const access = new KeycloakToolAccess(
    "kubernetes-mcp-access",
    {
      realm: kc.realm,
      clientId: registration.serverId,
      tools: cfg.mcpServer.tools,
      rolePrefix: release.rolePrefix,
      group: kc.group,
      username: kc.username,
      existingObjects: kc.existingObjects,
      admin: kc,
    },
    // Keycloak runs in the cluster and its realm is configured by the setup step.
    { dependsOn: [tokenExchange.step] },
  );

  const authPolicy = new ToolAuthPolicy(
    "kubernetes-mcp-auth",
    {
      policyName: `${cfg.mcpServer.routeName}-auth-policy`,
      // Names as configured, not the route's outputs: known in a preview, so the diff and the
      // policy pack see the route the policy aims at.
      routeName: cfg.mcpServer.routeName,
      namespace: cfg.mcpServer.namespace,
      issuerUrl: issuerUrl(kc),
      tokenExchangeSecret: oidc.tokenExchangeSecret,
      rolePrefix: release.rolePrefix,
      resourceMetadataUrl: resourceMetadataUrl(cfg),
    },
    // The policy reads the `token-exchange` Secret that the setup step creates, with the new secret.
    { ...onCluster, dependsOn: [tokenExchange.step, gatewayClientSecret.patch, registration.route] },
  );

  const clusterAccess = new OidcClusterAccess(
    "oidc-user",
    {
      issuerUrl: issuerUrl(kc),
      username: kc.username,
      clusterRole: oidc.clusterRole,
      allowClusterAdmin: oidc.allowClusterAdmin,
    },
    onCluster,
  );

  return { ...base, tokenExchange, gatewayClientSecret, access, authPolicy, clusterAccess };
}
