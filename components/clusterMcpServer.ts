import type * as k8s from "@pulumi/kubernetes";
import type * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import { domainChainMetadata } from "./domainChain";
import { DomainTrust } from "./domainTrust";
import { GatewayListener } from "./gatewayListener";
import type { ReleaseFacts } from "./gatewayRelease";
import { KeycloakToolAccess } from "./keycloakToolAccess";
import { kubeconfigWithoutCredentials, LocalMcpServer } from "./localMcpServer";
import { McpServerRoute } from "./mcpServerRoute";
import { OidcClusterAccess } from "./oidcClusterAccess";
import { ToolAuthPolicy } from "./toolAuthPolicy";

/** The cluster the server serves: the gateway's own or a further one (use case 3). */
export interface TargetCluster {
  /** Kubeconfig contents cut to one context (a secret): the server's, when the stack starts it. */
  kubeconfig: pulumi.Output<string>;
  provider: k8s.Provider;
}

/** The Gateway the server is reached through, on the gateway's cluster. */
export interface GatewayTarget {
  name: string;
  namespace: string;
  listenerPort: number;
  provider: k8s.Provider;
  release: ReleaseFacts;
  /** Where a client without a token learns how to get one (RFC 9728). */
  resourceMetadataUrl: string;
}

/** The server as the gateway sees it: Kubernetes names on the gateway's cluster, and its address. */
export interface ServerEndpoint {
  namespace: string;
  listenerName: string;
  routeName: string;
  serviceName: string;
  serverName: string;
  host: string;
  port: number;
  path: string;
  toolPrefix: string;
  /** Name the listener patch's field manager (the stack's first listener only, see GatewayListener). */
  namedFieldManager: boolean;
}

/** The kubernetes-mcp-server process the stack starts on this machine (absent: the user runs one). */
export interface ServerProcess {
  bindAddress: string;
  toolsets: string[];
  disabledTools: string[];
  binary: string;
  projectDir: string;
}

/** The Pulumi names of the children: the ones the use-case chain gave them, so their state carries over. */
export interface ChildNames {
  server: string;
  listener: string;
  route: string;
  access: string;
  policy: string;
  binding: string;
  /** A further cluster's realm trust (use case 3). */
  trust?: string;
}

/** Keycloak's part, made once by the program and shared by every cluster's server. */
export interface GatewayKeycloakPieces {
  provider: keycloak.Provider;
  /** The make step that configures the gateway's realm (its exchange client, the `token-exchange` Secret). */
  setup: pulumi.Resource;
  /** The gateway client's new secret, in Keycloak and in the `token-exchange` Secret. */
  clientSecret: pulumi.Resource;
}

/** OIDC in front of the server and on its cluster (use cases 2 and 3). */
export interface ServerOidc {
  keycloak: GatewayKeycloakPieces;
  /** The realm that issues the caller's tokens (the gateway's). */
  gatewayRealm: string;
  gatewayIssuerUrl: string;
  /** The AuthPolicy's exchange client credentials (Secret in Authorino's namespace). */
  tokenExchangeSecret: string;
  secretNamespace: string;
  tools: string[];
  group: string;
  username: string;
  /** `create` or `reference` (realm import has them); a further cluster's realm is always `create`. */
  existingObjects: "create" | "reference";
  clusterRole: string;
  allowClusterAdmin: boolean;
  /** A further cluster trusts its own realm, which the stack makes trust the gateway's (use case 3). */
  domain?: {
    realm: string;
    issuerUrl: string;
    /** The gateway realm's group whose members may reach this cluster (the gateway server's group). */
    gatewayGroupId: pulumi.Input<string>;
    /** After the gateway server's access: the group and its member exist. */
    gatewayAccess: pulumi.Resource;
    /** The Secret with the domain realm's grant client, for Authorino. */
    grantSecret: string;
    /** The realm, when the stack makes it (the in-cluster Keycloak it patched starts without it). */
    madeRealm?: pulumi.Resource;
  };
}

export interface ClusterMcpServerArgs<O extends ServerOidc | undefined> {
  cluster: TargetCluster;
  gateway: GatewayTarget;
  endpoint: ServerEndpoint;
  /** Absent: the user runs the server (mcpServer.manage false). */
  process?: ServerProcess;
  /** Undefined: use case 1, no auth. */
  oidc: O;
  names: ChildNames;
}

/** What OIDC adds to a server: who may call which tool, checked by the gateway and by the cluster. */
export interface ServerGuard {
  access: KeycloakToolAccess;
  authPolicy: ToolAuthPolicy;
  clusterAccess: OidcClusterAccess;
  /** A further cluster's realm trust (use case 3). */
  trust?: DomainTrust;
}

/** A server built with OIDC has its guard, one built without has none: callers need no check. */
type GuardOf<O> = O extends ServerOidc ? ServerGuard : undefined;

/**
 * An MCP server for one cluster behind the gateway: the server process, the Gateway's listener,
 * the route with its Service, ServiceEntry and MCPServer registration, and with OIDC the realm's
 * tool access, the AuthPolicy, the cluster's role binding and (further clusters) the realm trust.
 */
export class ClusterMcpServer<O extends ServerOidc | undefined = ServerOidc | undefined>
  extends pulumi.ComponentResource
{
  public readonly server?: LocalMcpServer;
  public readonly listener: GatewayListener;
  public readonly registration: McpServerRoute;
  public readonly guard: GuardOf<O>;

  constructor(name: string, args: ClusterMcpServerArgs<O>, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:mcp:ClusterMcpServer", name, {}, opts);
    const { endpoint: e, gateway, oidc, names } = args;
    // Each child was declared at the stack's top level before this component: the alias keeps its
    // state (and its children's), so upgrading a stack replaces nothing.
    const moved: pulumi.ComponentResourceOptions = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };
    const onGateway = { ...moved, providers: [gateway.provider] };

    if (args.process) {
      this.server = new LocalMcpServer(
        names.server,
        {
          port: e.port,
          ...args.process,
          // With OIDC every call must bring the caller's token: no credentials to fall back on.
          kubeconfig: oidc ? args.cluster.kubeconfig.apply(kubeconfigWithoutCredentials) : args.cluster.kubeconfig,
        },
        moved,
      );
    }
    this.listener = new GatewayListener(
      names.listener,
      {
        gatewayName: gateway.name,
        gatewayNamespace: gateway.namespace,
        listenerName: e.listenerName,
        hostname: e.host,
        port: gateway.listenerPort,
        namedFieldManager: e.namedFieldManager,
      },
      onGateway,
    );
    this.registration = new McpServerRoute(
      names.route,
      {
        gateway: this.listener.gatewayRef,
        namespace: e.namespace,
        routeName: e.routeName,
        serviceName: e.serviceName,
        serverName: e.serverName,
        host: e.host,
        port: e.port,
        path: e.path,
        toolPrefix: e.toolPrefix,
        release: gateway.release,
      },
      // The broker checks the server when it registers it: let the process answer first.
      { ...onGateway, dependsOn: this.server ? [this.server] : [] },
    );
    this.guard = (oidc ? this.guardWith(args, oidc, moved, onGateway) : undefined) as GuardOf<O>;
    this.registerOutputs({});
  }

  /** Use cases 2 and 3: who may call which tool, checked by the gateway and by the cluster. */
  private guardWith(
    args: ClusterMcpServerArgs<O>,
    oidc: ServerOidc,
    moved: pulumi.ComponentResourceOptions,
    onGateway: pulumi.ComponentResourceOptions,
  ): ServerGuard {
    const { endpoint: e, gateway, names } = args;
    const kc = oidc.keycloak;
    const domain = oidc.domain;
    const trust = domain
      ? new DomainTrust(
          names.trust ?? `${names.access}-trust`,
          {
            gatewayRealm: oidc.gatewayRealm,
            gatewayIssuerUrl: oidc.gatewayIssuerUrl,
            gatewayGroupId: domain.gatewayGroupId,
            domainRealm: domain.realm,
            domainIssuerUrl: domain.issuerUrl,
            username: oidc.username,
            secretNamespace: oidc.secretNamespace,
            secretName: domain.grantSecret,
            keycloakProvider: kc.provider,
          },
          // The gateway realm's client comes from the setup step, its group from the gateway server's access.
          {
            ...onGateway,
            dependsOn: [kc.setup, domain.gatewayAccess, ...(domain.madeRealm ? [domain.madeRealm] : [])],
          },
        )
      : undefined;
    const access = new KeycloakToolAccess(
      names.access,
      {
        realm: domain?.realm ?? oidc.gatewayRealm,
        clientId: this.registration.serverId,
        tools: oidc.tools,
        rolePrefix: gateway.release.rolePrefix,
        group: oidc.group,
        username: oidc.username,
        existingObjects: domain ? "create" : oidc.existingObjects,
        provider: kc.provider,
      },
      // The gateway's realm is configured by the setup step; a domain group's member is the user the trust links.
      { ...moved, dependsOn: [trust ?? kc.setup] },
    );
    const authPolicy = new ToolAuthPolicy(
      names.policy,
      {
        policyName: `${e.routeName}-auth-policy`,
        // Names as configured, not the route's outputs: known in a preview, so the diff and the
        // policy pack see the route the policy aims at.
        routeName: e.routeName,
        namespace: e.namespace,
        issuerUrl: oidc.gatewayIssuerUrl,
        tokenExchangeSecret: oidc.tokenExchangeSecret,
        rolePrefix: gateway.release.rolePrefix,
        resourceMetadataUrl: gateway.resourceMetadataUrl,
        metadata: domain
          ? domainChainMetadata({
              gatewayIssuerUrl: oidc.gatewayIssuerUrl,
              domainIssuerUrl: domain.issuerUrl,
              gatewayClientSecret: oidc.tokenExchangeSecret,
              domainClientSecret: domain.grantSecret,
            })
          : undefined,
      },
      // Its exchange reads the `token-exchange` Secret: after the generated secret is in it.
      { ...onGateway, dependsOn: [kc.setup, kc.clientSecret, this.registration, ...(trust ? [trust] : [])] },
    );
    const clusterAccess = new OidcClusterAccess(
      names.binding,
      {
        issuerUrl: domain?.issuerUrl ?? oidc.gatewayIssuerUrl,
        username: oidc.username,
        clusterRole: oidc.clusterRole,
        allowClusterAdmin: oidc.allowClusterAdmin,
      },
      { ...moved, providers: [args.cluster.provider] },
    );
    return { trust, access, authPolicy, clusterAccess };
  }
}
