import * as pulumi from "@pulumi/pulumi";
import { isIP } from "node:net";
import {
  ClusterMcpServer,
  type ChildNames,
  type GatewayKeycloakPieces,
  type GatewayTarget,
  type ServerEndpoint,
  type ServerOidc,
  type ServerProcess,
} from "../components/clusterMcpServer";
import { GatewaySubject } from "../components/domainTrust";
import { GatewayCheckout } from "../components/gatewayCheckout";
import { GatewayClientSecret } from "../components/gatewayClientSecret";
import { GatewayCluster } from "../components/gatewayCluster";
import { RELEASE_FACTS, serverIdOf } from "../components/gatewayRelease";
import { gatewayAddress, gatewayKeycloakCa } from "../components/gatewayReads";
import { KeycloakChaining } from "../components/keycloakChaining";
import { kindOidcConfig } from "../components/kindClusterConfig";
import { keycloakProvider } from "../components/keycloakProvider";
import * as keycloak from "@pulumi/keycloak";
import type { KeycloakToolAccess } from "../components/keycloakToolAccess";
import { resolveMcpServerBinary } from "../components/localMcpServer";
import { TokenExchangeSetup } from "../components/tokenExchangeSetup";
import { issuerUrl, type DomainConfig, type StackConfig } from "./config";

export interface StackOutputs {
  mcpGatewayUrl: string;
  toolPrefix: string;
  /** The tool names as a client of the gateway sees them (prefixed). */
  toolNames: string[];
  inspectorCommand: string;
  /** `oidc` and `cross-domain`: the Keycloak client id of the gateway cluster's server (`<namespace>/<route>`). */
  keycloakClientId?: pulumi.Output<string>;
}

/** What the program makes once, whatever the number of clusters that serve MCP. */
export interface SharedPieces {
  checkout?: GatewayCheckout;
  /** The gateway's cluster. */
  cluster: GatewayCluster;
  /** Use cases 2 and 3. */
  keycloak?: GatewayKeycloakPieces & { tokenExchange: TokenExchangeSetup; gatewayClientSecret: GatewayClientSecret };
  /** Use case 3: `sub` in the gateway realm's exchanged tokens. */
  gatewaySubject?: GatewaySubject;
  /** Use case 3 on the gateway's in-cluster Keycloak: the patches that let it chain. */
  chaining?: KeycloakChaining;
}

/** Where Authorino reads the secrets an AuthPolicy names (where the make target puts `token-exchange`). */
export const AUTHORINO_NAMESPACE = "kuadrant-system";

/**
 * Builds the graph the use case asks for: the shared pieces once, then one ClusterMcpServer per
 * cluster that serves MCP (the gateway's, and in use case 3 each domain's).
 */
export function buildStack(
  cfg: StackConfig,
  projectDir: string = process.cwd(),
): { shared: SharedPieces; servers: ClusterMcpServer[]; outputs: StackOutputs } {
  // Made on first need: kind mode's cluster and OIDC's token-exchange example both run its make targets.
  let checkout: GatewayCheckout | undefined;
  const gatewayCheckout = () => (checkout ??= new GatewayCheckout("mcp-gateway-checkout", cfg.cluster.kind));
  const cluster = new GatewayCluster("cluster", {
    mode: cfg.cluster.mode,
    checkout: cfg.cluster.mode === "kind" ? gatewayCheckout() : undefined,
    kindClusterName: cfg.cluster.kind.name,
    adopt: cfg.cluster.kind.adopt,
    checkoutDir: cfg.cluster.kind.dir,
    projectDir,
    kubeconfig: cfg.cluster.kubeconfig,
    context: cfg.cluster.context,
    clusterIdentifier: cfg.cluster.clusterIdentifier,
  });
  const gatewayServer = <O extends ServerOidc | undefined>(oidc: O) =>
    new ClusterMcpServer("kubernetes-mcp", {
      cluster,
      gateway: gatewayTarget(cfg, cluster),
      endpoint: gatewayEndpoint(cfg),
      process: cfg.mcpServer.manage ? serverProcess(cfg, projectDir) : undefined,
      oidc,
      names: gatewayChildNames(cfg),
    });

  const shared: SharedPieces = { cluster };
  let servers: ClusterMcpServer[];
  switch (cfg.useCase) {
    case "no-auth":
      servers = [gatewayServer(undefined)];
      break;
    case "oidc":
      shared.keycloak = gatewayKeycloak(cfg, cluster, gatewayCheckout());
      servers = [gatewayServer(serverOidc(cfg, shared.keycloak))];
      break;
    case "cross-domain": {
      const chaining = (shared.chaining = cfg.inClusterKeycloak.patch ? keycloakChaining(cfg, cluster) : undefined);
      const kc = (shared.keycloak = gatewayKeycloak(cfg, cluster, gatewayCheckout(), chaining));
      shared.gatewaySubject = new GatewaySubject(
        "gateway-subject",
        { gatewayRealm: cfg.keycloak.realm, keycloakProvider: kc.provider },
        // The client comes with the realm the setup step configures.
        { dependsOn: [kc.tokenExchange] },
      );
      const gateway = gatewayServer(serverOidc(cfg, kc));
      const kindInputs = cfg.domains.some((d) => d.cluster.mode === "kind")
        ? kindDomainInputs(cfg, cluster, chaining)
        : undefined;
      const domains = cfg.domains.map((d, index) =>
        domainServer(
          cfg,
          {
            gatewayCluster: cluster,
            gatewayOidc: serverOidc(cfg, kc),
            gatewayAccess: gateway.guard.access,
            // The patched Keycloak starts from the realm import: the stack makes the domain's realm.
            madeRealm: chaining && new keycloak.Realm(`realm-${d.name}`, { realm: d.realm }, { provider: kc.provider }),
            kindInputs,
          },
          d,
          index,
          projectDir,
        ),
      );
      servers = [gateway, ...domains];
      break;
    }
    default:
      return unknownUseCase(cfg);
  }
  shared.checkout = checkout;
  return { shared, servers, outputs: stackOutputs(cfg, servers[0]) };
}

function unknownUseCase(cfg: never): never {
  throw new Error(`useCase: '${(cfg as StackConfig).useCase}' has no graph`);
}

function gatewayTarget(cfg: StackConfig, cluster: GatewayCluster): GatewayTarget {
  return {
    name: cfg.gateway.name,
    namespace: cfg.gateway.namespace,
    listenerPort: cfg.gateway.listenerPort,
    provider: cluster.provider,
    release: RELEASE_FACTS[cfg.gateway.release],
    resourceMetadataUrl: resourceMetadataUrl(cfg),
  };
}

function gatewayEndpoint(cfg: StackConfig): ServerEndpoint {
  const m = cfg.mcpServer;
  return {
    namespace: m.namespace,
    listenerName: cfg.gateway.listenerName,
    routeName: m.routeName,
    serviceName: m.serviceName,
    serverName: m.serverName,
    host: m.host,
    port: m.port,
    path: m.path,
    toolPrefix: m.toolPrefix,
    namedFieldManager: true,
  };
}

/** The Pulumi names the gateway cluster's pieces always had. */
const gatewayChildNames = (cfg: StackConfig): ChildNames => ({
  server: "kubernetes-mcp-server",
  listener: cfg.mcpServer.routeName,
  route: cfg.mcpServer.routeName,
  access: "kubernetes-mcp-access",
  policy: "kubernetes-mcp-auth",
  binding: "oidc-user",
});

/** The server process the stack starts (a further cluster's always: its config has a port, no `manage`). */
function serverProcess(cfg: StackConfig, projectDir: string): ServerProcess {
  const m = cfg.mcpServer;
  return {
    bindAddress: m.bindAddress,
    toolsets: m.toolsets,
    disabledTools: disabledTools(cfg),
    binary: resolveMcpServerBinary(projectDir),
    projectDir,
  };
}

type OidcStackConfig = Extract<StackConfig, { useCase: "oidc" | "cross-domain" }>;
type CrossDomainConfig = Extract<StackConfig, { useCase: "cross-domain" }>;

/** The gateway's in-cluster Keycloak, patched so one realm can take another's tokens. */
function keycloakChaining(cfg: CrossDomainConfig, cluster: GatewayCluster): KeycloakChaining {
  return new KeycloakChaining("keycloak-chaining", {
    provider: cluster.provider,
    kubeconfig: cluster.kubeconfig,
    image: cfg.inClusterKeycloak.image,
    realmHost: new URL(cfg.keycloak.url).hostname,
    gateway: { namespace: cfg.gateway.namespace, name: cfg.gateway.name },
    after: cluster.setup ? [cluster.setup] : [],
  });
}

/**
 * Keycloak's shared part: the provider, the token-exchange example and the exchange client's secret.
 * With `chaining`, all of it waits for the patched Keycloak: the new pod starts from the realm import.
 */
function gatewayKeycloak(
  cfg: OidcStackConfig,
  cluster: GatewayCluster,
  checkout: GatewayCheckout,
  chaining?: KeycloakChaining,
): NonNullable<SharedPieces["keycloak"]> {
  const afterChaining = chaining ? [chaining] : [];
  // Every Keycloak object goes through the provider: its dependsOn makes each one wait.
  const provider = keycloakProvider(cfg.keycloak, { dependsOn: afterChaining });
  const tokenExchange = new TokenExchangeSetup(
    "oauth-token-exchange",
    {
      dir: checkout.dir,
      makeTarget: RELEASE_FACTS[cfg.gateway.release].tokenExchangeTarget,
      kubeconfig: cluster.kubeconfig,
    },
    { dependsOn: [...(cluster.setup ? [cluster.setup] : []), ...afterChaining] },
  );
  // The setup step's Secret holds the realm import's well-known `mcp-gateway:secret`: replace both.
  const gatewayClientSecret = new GatewayClientSecret(
    "mcp-gateway-client-secret",
    {
      admin: cfg.keycloak,
      realm: cfg.keycloak.realm,
      setup: tokenExchange.step,
      secretNamespace: AUTHORINO_NAMESPACE,
      secretName: cfg.oidc.tokenExchangeSecret,
    },
    { providers: [cluster.provider], dependsOn: [tokenExchange] },
  );
  return { provider, setup: tokenExchange, clientSecret: gatewayClientSecret, tokenExchange, gatewayClientSecret };
}

/** OIDC of the gateway cluster's server: the gateway's realm guards it and its cluster trusts that realm. */
function serverOidc(cfg: OidcStackConfig, keycloak: GatewayKeycloakPieces): ServerOidc {
  const kc = cfg.keycloak;
  return {
    keycloak,
    gatewayRealm: kc.realm,
    gatewayIssuerUrl: issuerUrl(kc),
    tokenExchangeSecret: cfg.oidc.tokenExchangeSecret,
    secretNamespace: AUTHORINO_NAMESPACE,
    tools: cfg.mcpServer.tools,
    group: kc.group,
    username: kc.username,
    existingObjects: kc.existingObjects,
    clusterRole: cfg.oidc.clusterRole,
    allowClusterAdmin: cfg.oidc.allowClusterAdmin,
  };
}

/** The Kubernetes names of a domain's objects: the gateway cluster's own, with `-<name>`. */
function domainEndpoint(cfg: StackConfig, d: DomainConfig): ServerEndpoint {
  const m = cfg.mcpServer;
  const routeName = `${m.routeName}-${d.name}`;
  return {
    namespace: m.namespace,
    listenerName: routeName,
    routeName,
    serviceName: `${m.serviceName}-${d.name}`,
    serverName: `${m.serverName}-${d.name}`,
    host: d.host,
    port: d.port,
    path: m.path,
    toolPrefix: d.toolPrefix,
    // Only the stack's first listener keeps a named field manager (see GatewayListener).
    namedFieldManager: false,
  };
}

/** Use case 3: a further cluster in its own realm, reached through the gateway by identity chaining. */
function domainServer(
  cfg: CrossDomainConfig,
  from: {
    gatewayCluster: GatewayCluster;
    gatewayOidc: ServerOidc;
    gatewayAccess: KeycloakToolAccess;
    madeRealm?: keycloak.Realm;
    /** When a further cluster is in kind mode. */
    kindInputs?: KindDomainInputs;
  },
  d: DomainConfig,
  index: number,
  projectDir: string,
): ClusterMcpServer<ServerOidc> {
  const endpoint = domainEndpoint(cfg, d);
  const domainIssuer = issuerUrl({ url: cfg.keycloak.url, realm: d.realm });
  const kind = d.cluster.mode === "kind" ? { ...d.cluster, ...from.kindInputs! } : undefined;
  const cluster = new GatewayCluster(
    `cluster-${d.name}`,
    kind
      ? {
          mode: "kind-direct",
          kindClusterName: kind.name,
          projectDir,
          // Its API server takes realm d.realm's tokens for its server's client, as the gateway's Kind
          // config does realm mcp's for the gateway's server.
          kindConfig: (caHostPath) =>
            kindOidcConfig({
              issuerUrl: domainIssuer,
              clientId: serverIdOf(RELEASE_FACTS[cfg.gateway.release], endpoint),
              caHostPath,
            }),
          keycloakCa: kind.keycloakCa,
          nodeHosts: kind.nodeHosts,
          clusterIdentifier: d.clusterIdentifier,
        }
      : {
          mode: "existing",
          kubeconfig: d.kubeconfig,
          context: d.context,
          kubeconfigKey: `domains[${index}].kubeconfig`,
          clusterIdentifier: d.clusterIdentifier,
        },
  );
  return new ClusterMcpServer(`kubernetes-mcp-${d.name}`, {
    cluster,
    gateway: gatewayTarget(cfg, from.gatewayCluster),
    endpoint,
    process: serverProcess(cfg, projectDir),
    oidc: {
      ...from.gatewayOidc,
      existingObjects: "create",
      domain: {
        realm: d.realm,
        issuerUrl: domainIssuer,
        gatewayGroupId: from.gatewayAccess.groupId,
        gatewayAccess: from.gatewayAccess,
        grantSecret: `${endpoint.routeName}-grant`,
        madeRealm: from.madeRealm,
      },
    },
    names: {
      server: `kubernetes-mcp-server-${d.name}`,
      listener: endpoint.routeName,
      route: endpoint.routeName,
      access: `${endpoint.routeName}-access`,
      policy: `${endpoint.routeName}-auth`,
      binding: `oidc-user-${d.name}`,
      trust: `domain-${d.name}-trust`,
    },
  });
}

/** What a further cluster in kind mode takes from the gateway's side, read once for all of them. */
interface KindDomainInputs {
  /** The CA of Keycloak's certificate (PEM), which the API server verifies the issuer with. */
  keycloakCa: pulumi.Output<string>;
  /** `<gateway address> <Keycloak host>` for the node's /etc/hosts; none when keycloak.url's host is an IP. */
  nodeHosts: pulumi.Output<string | undefined>;
}

/**
 * The Kind node's API server must reach Keycloak by keycloak.url's host name and trust its
 * certificate. The CA: keycloak.rootCaCertificate when set, else the one cert-manager keeps for the
 * gateway's `keycloak` listener (build/keycloak.mk extracts the same to out/certs/ca.crt). The host:
 * as build/keycloak.mk does for the gateway's node, the Gateway's address (both clusters are on
 * Kind's network), unless the host is an IP already.
 */
function kindDomainInputs(
  cfg: CrossDomainConfig,
  cluster: GatewayCluster,
  chaining: KeycloakChaining | undefined,
): KindDomainInputs {
  const onGateway = { provider: cluster.provider, dependsOn: cluster.setup ? [cluster.setup] : [] };
  // Read once: the chaining, when there is one, has read both already.
  const keycloakCa = cfg.keycloak.rootCaCertificate
    ? pulumi.output(cfg.keycloak.rootCaCertificate)
    : (chaining?.gatewayCa ?? gatewayKeycloakCa("kind-domains-keycloak-ca", onGateway));
  const host = new URL(cfg.keycloak.url).hostname;
  if (isIP(host) !== 0) return { keycloakCa, nodeHosts: pulumi.output(undefined) };
  const address =
    chaining?.gatewayAddress ??
    gatewayAddress(
      "kind-domains-gateway",
      cfg.gateway,
      `a further Kind cluster's node resolves ${host} to it`,
      onGateway,
    );
  return { keycloakCa, nodeHosts: address.apply((a) => `${a} ${host}`) };
}

function stackOutputs(cfg: StackConfig, gatewayServer: ClusterMcpServer): StackOutputs {
  const url = gatewayMcpUrl(cfg);
  const offered = cfg.mcpServer.tools.filter((t) => !disabledTools(cfg).includes(t));
  const prefixes = [
    cfg.mcpServer.toolPrefix,
    ...(cfg.useCase === "cross-domain" ? cfg.domains.map((d) => d.toolPrefix) : []),
  ];
  return {
    mcpGatewayUrl: url,
    toolPrefix: cfg.mcpServer.toolPrefix,
    // Every server's tools, as the gateway lists them: use case 3 adds each domain's prefix.
    toolNames: prefixes.flatMap((prefix) => offered.map((t) => prefix + t)),
    inspectorCommand: inspectorCommand(url),
    ...(gatewayServer.guard && { keycloakClientId: gatewayServer.guard.access.clientId }),
  };
}

/**
 * Tools the stack's server must not offer: in no-auth it holds the kubeconfig's credentials, and
 * `configuration_view` would hand them to any caller (unless mcpServer.allowConfigurationView).
 */
export function disabledTools(cfg: StackConfig): string[] {
  return cfg.useCase === "no-auth" && !cfg.mcpServer.allowConfigurationView ? ["configuration_view"] : [];
}

/** A URL of the MCP Gateway as the user's machine reaches it; by default its MCP endpoint. */
function gatewayUrl(cfg: StackConfig, path: string = cfg.mcpServer.path): string {
  return `http://${cfg.gateway.publicHost}:${cfg.gateway.publicPort}${path}`;
}

/** Where an unauthenticated client finds the gateway's OAuth protected-resource metadata (RFC 9728). */
export const resourceMetadataUrl = (cfg: StackConfig): string =>
  gatewayUrl(cfg, `/.well-known/oauth-protected-resource${cfg.mcpServer.path}`);

/** Where a client reaches the MCP Gateway's MCP endpoint. */
export const gatewayMcpUrl = (cfg: StackConfig): string => gatewayUrl(cfg);

/** The MCP Inspector version the command runs: pinned, so the command does not change under the user. */
const INSPECTOR_VERSION = "0.17.2";

/**
 * The gateway Makefile's `inspect-gateway` recipe, aimed at this stack's gateway URL, without its
 * DANGEROUSLY_OMIT_AUTH: the Inspector's proxy keeps its session token and opens the browser with it.
 */
export function inspectorCommand(mcpUrl: string): string {
  return `npx --yes @modelcontextprotocol/inspector@${INSPECTOR_VERSION} --transport streamable-http --server-url '${mcpUrl}'`;
}
