import { domainChainMetadata } from "../components/domainChain";
import { DomainTrust, GatewaySubject } from "../components/domainTrust";
import { GatewayCluster } from "../components/gatewayCluster";
import { GatewayListener } from "../components/gatewayListener";
import { RELEASE_FACTS } from "../components/gatewayRelease";
import { KeycloakToolAccess } from "../components/keycloakToolAccess";
import { kubeconfigWithoutCredentials, LocalMcpServer, resolveMcpServerBinary } from "../components/localMcpServer";
import { McpServerRoute } from "../components/mcpServerRoute";
import { OidcClusterAccess } from "../components/oidcClusterAccess";
import { ToolAuthPolicy } from "../components/toolAuthPolicy";
import { issuerUrl, type DomainConfig, type StackConfig } from "./config";
import { resourceMetadataUrl } from "./noAuth";
import { AUTHORINO_NAMESPACE, buildOidc, type OidcStack } from "./oidc";

/** One more cluster in its own OIDC domain: its server, registration, realm objects, policy and binding. */
export interface DomainStack {
  cluster: GatewayCluster;
  server: LocalMcpServer;
  listener: GatewayListener;
  registration: McpServerRoute;
  trust: DomainTrust;
  access: KeycloakToolAccess;
  authPolicy: ToolAuthPolicy;
  clusterAccess: OidcClusterAccess;
}

/** Use case 3: use case 2 for the gateway's cluster, and each domain's cluster reached by identity chaining. */
export interface CrossDomainStack extends OidcStack {
  gatewaySubject: GatewaySubject;
  domains: DomainStack[];
}

/** The Kubernetes names of a domain's objects: the gateway cluster's own, with `-<name>`. */
function domainNames(cfg: StackConfig, d: Pick<DomainConfig, "name">) {
  const m = cfg.mcpServer;
  const routeName = `${m.routeName}-${d.name}`;
  return {
    routeName,
    serviceName: `${m.serviceName}-${d.name}`,
    serverName: `${m.serverName}-${d.name}`,
    /** The Secret with the domain realm's grant client, for Authorino. */
    grantSecret: `${routeName}-grant`,
  };
}

export function buildCrossDomain(cfg: StackConfig, projectDir: string = process.cwd()): CrossDomainStack {
  if (cfg.useCase !== "cross-domain") throw new Error("buildCrossDomain: useCase is not 'cross-domain'");
  const base = buildOidc(cfg, projectDir);
  const gatewaySubject = new GatewaySubject(
    "gateway-subject",
    { gatewayRealm: cfg.keycloak.realm, keycloakProvider: base.access.provider },
    // The client comes with the realm the setup step configures.
    { dependsOn: [base.tokenExchange.step] },
  );
  const domains = cfg.domains.map((d) => buildDomain(cfg, base, d, projectDir));
  return { ...base, gatewaySubject, domains };
}

/** The config of use case 3 (the others have no domains). */
type CrossDomainConfig = Extract<StackConfig, { useCase: "cross-domain" }>;

function buildDomain(cfg: CrossDomainConfig, base: OidcStack, d: DomainConfig, projectDir: string): DomainStack {
  const { keycloak: kc, oidc } = cfg;
  const m = cfg.mcpServer;
  const names = domainNames(cfg, d);
  const release = RELEASE_FACTS[cfg.gateway.release];
  const gatewayIssuer = issuerUrl(kc);
  const domainIssuer = issuerUrl({ url: kc.url, realm: d.realm });
  const onGatewayCluster = { providers: [base.cluster.provider] };

  const cluster = new GatewayCluster(`cluster-${d.name}`, {
    mode: "existing",
    kubeconfig: d.kubeconfig,
    context: d.context,
    kubeconfigKey: `domains[${cfg.domains.indexOf(d)}].kubeconfig`,
    clusterIdentifier: d.clusterIdentifier,
  });
  const server = new LocalMcpServer(`kubernetes-mcp-server-${d.name}`, {
    port: d.port,
    bindAddress: m.bindAddress,
    toolsets: m.toolsets,
    // Every call must bring a token of the domain's realm: no credentials to fall back on.
    kubeconfig: cluster.kubeconfig.apply(kubeconfigWithoutCredentials),
    binary: resolveMcpServerBinary(projectDir),
    projectDir,
  });
  const listener = new GatewayListener(
    names.routeName,
    {
      gatewayName: cfg.gateway.name,
      gatewayNamespace: cfg.gateway.namespace,
      listenerName: names.routeName,
      hostname: d.host,
      port: cfg.gateway.listenerPort,
    },
    onGatewayCluster,
  );
  const registration = new McpServerRoute(
    names.routeName,
    {
      gateway: listener.gatewayRef,
      namespace: m.namespace,
      routeName: names.routeName,
      serviceName: names.serviceName,
      serverName: names.serverName,
      host: d.host,
      port: d.port,
      path: m.path,
      toolPrefix: d.toolPrefix,
      release,
    },
    { ...onGatewayCluster, dependsOn: [server] },
  );

  const trust = new DomainTrust(
    `domain-${d.name}-trust`,
    {
      gatewayRealm: kc.realm,
      gatewayIssuerUrl: gatewayIssuer,
      gatewayGroupId: base.access.groupId,
      domainRealm: d.realm,
      domainIssuerUrl: domainIssuer,
      username: kc.username,
      secretNamespace: AUTHORINO_NAMESPACE,
      secretName: names.grantSecret,
      keycloakProvider: base.access.provider,
    },
    // The gateway realm's client and group come from the setup step and use case 2's access.
    { ...onGatewayCluster, dependsOn: [base.tokenExchange.step, base.access] },
  );
  const access = new KeycloakToolAccess(
    `${names.routeName}-access`,
    {
      realm: d.realm,
      clientId: registration.serverId,
      tools: m.tools,
      rolePrefix: release.rolePrefix,
      group: kc.group,
      username: kc.username,
      existingObjects: "create",
      admin: base.access.provider,
    },
    // The group's member is the user the trust links.
    { dependsOn: [trust] },
  );
  const authPolicy = new ToolAuthPolicy(
    `${names.routeName}-auth`,
    {
      policyName: `${names.routeName}-auth-policy`,
      routeName: names.routeName,
      namespace: m.namespace,
      issuerUrl: gatewayIssuer,
      tokenExchangeSecret: oidc.tokenExchangeSecret,
      rolePrefix: release.rolePrefix,
      resourceMetadataUrl: resourceMetadataUrl(cfg),
      metadata: domainChainMetadata({
        gatewayIssuerUrl: gatewayIssuer,
        domainIssuerUrl: domainIssuer,
        gatewayClientSecret: oidc.tokenExchangeSecret,
        domainClientSecret: names.grantSecret,
      }),
    },
    // Its first step reads the gateway client's Secret: after the generated secret is in it.
    {
      ...onGatewayCluster,
      dependsOn: [base.tokenExchange.step, base.gatewayClientSecret.patch, trust, registration.route],
    },
  );
  const clusterAccess = new OidcClusterAccess(
    `oidc-user-${d.name}`,
    {
      issuerUrl: domainIssuer,
      username: kc.username,
      clusterRole: oidc.clusterRole,
      allowClusterAdmin: oidc.allowClusterAdmin,
    },
    { providers: [cluster.provider] },
  );
  return { cluster, server, listener, registration, trust, access, authPolicy, clusterAccess };
}
