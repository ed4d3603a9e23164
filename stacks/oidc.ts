import * as command from "@pulumi/command";
import * as keycloak from "@pulumi/keycloak";
import { RELEASE_FACTS } from "../components/gatewayRelease";
import { KeycloakToolAccess } from "../components/keycloakToolAccess";
import { OidcClusterAccess } from "../components/oidcClusterAccess";
import { ToolAuthPolicy } from "../components/toolAuthPolicy";
import { issuerUrl, type OidcConfig, type StackConfig } from "./config";
import { buildNoAuth, gatewayUrl, type NoAuthStack } from "./noAuth";

/** Use case 2 (OIDC): use case 1 plus Keycloak access, the AuthPolicy and the ClusterRoleBinding. */
export interface OidcStack extends NoAuthStack {
  tokenExchangeSetup: command.local.Command;
  keycloakProvider: keycloak.Provider;
  access: KeycloakToolAccess;
  authPolicy: ToolAuthPolicy;
  clusterAccess: OidcClusterAccess;
}

// The make target runs kubectl: give it the stack's cluster (the kubeconfig's contents, see
// KindCluster) in a private temp file. `make tools` first: on an existing cluster nothing
// has installed the checkout's bin/kustomize and bin/yq yet (it skips tools already there).
export const tokenExchangeSetupScript = (makeTarget: string) => `set -eu
KUBECONFIG="$(mktemp)"; export KUBECONFIG
trap 'rm -f "$KUBECONFIG"' EXIT
printf '%s\\n' "$STACK_KUBECONFIG" > "$KUBECONFIG"
make tools ${makeTarget} >&2
`;

export function buildOidc(cfg: StackConfig, projectDir?: string): OidcStack {
  const kc = cfg.keycloak;
  const oidc: OidcConfig | undefined = cfg.oidc;
  if (!kc || !oidc) throw new Error("buildOidc: the config has no keycloak/oidc section (useCase is not 'oidc')");
  const base = buildNoAuth(cfg, projectDir);
  const { checkout, cluster, registration } = base;
  const release = RELEASE_FACTS[cfg.gateway.release];
  if (!checkout) throw new Error("buildOidc: the token-exchange example needs the MCP Gateway checkout");

  // Sets OAuth env on the broker and creates the `token-exchange` Secret the AuthPolicy reads.
  const tokenExchangeSetup = new command.local.Command(
    "oauth-token-exchange-setup",
    {
      dir: checkout.dir,
      create: tokenExchangeSetupScript(release.tokenExchangeTarget),
      environment: { STACK_KUBECONFIG: cluster.kubeconfig },
      logging: "stderr",
    },
    { dependsOn: cluster.setup ? [cluster.setup] : [] },
  );

  const keycloakProvider = new keycloak.Provider("keycloak", {
    url: kc.url,
    clientId: "admin-cli",
    realm: "master",
    username: kc.adminUser,
    password: kc.adminPassword,
    tlsInsecureSkipVerify: kc.tlsInsecureSkipVerify,
    rootCaCertificate: kc.rootCaCertificate,
    // Log in on first use, not at configure time: a preview needs no reachable Keycloak.
    initialLogin: false,
  });

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
    },
    // Keycloak runs in the cluster and its realm is configured by the setup step.
    { providers: [keycloakProvider], dependsOn: [tokenExchangeSetup] },
  );

  const onCluster = { providers: [cluster.provider] };
  const authPolicy = new ToolAuthPolicy(
    "kubernetes-mcp-auth",
    {
      policyName: `${cfg.mcpServer.routeName}-auth-policy`,
      routeName: registration.routeName,
      namespace: registration.routeNamespace,
      issuerUrl: issuerUrl(kc),
      tokenExchangeSecret: oidc.tokenExchangeSecret,
      rolePrefix: release.rolePrefix,
      resourceMetadataUrl: gatewayUrl(cfg, `/.well-known/oauth-protected-resource${cfg.mcpServer.path}`),
    },
    // The policy reads the `token-exchange` Secret that the setup step creates.
    { ...onCluster, dependsOn: [tokenExchangeSetup] },
  );

  const clusterAccess = new OidcClusterAccess(
    "oidc-user",
    { issuerUrl: issuerUrl(kc), username: kc.username, clusterRole: oidc.clusterRole },
    onCluster,
  );

  return { ...base, tokenExchangeSetup, keycloakProvider, access, authPolicy, clusterAccess };
}
