import * as pulumi from "@pulumi/pulumi";
import { GatewayCheckout } from "../components/gatewayCheckout";
import { GatewayListener } from "../components/gatewayListener";
import { GatewayCluster } from "../components/gatewayCluster";
import { kubeconfigWithoutCredentials, LocalMcpServer, resolveMcpServerBinary } from "../components/localMcpServer";
import { RELEASE_FACTS } from "../components/gatewayRelease";
import { McpServerRoute } from "../components/mcpServerRoute";
import type { StackConfig } from "./config";

/** Use case 1 (no auth): cluster, MCP server process, listener, route, service, entry, MCPServer. */
export interface NoAuthStack {
  checkout?: GatewayCheckout;
  cluster: GatewayCluster;
  server?: LocalMcpServer;
  listener: GatewayListener;
  registration: McpServerRoute;
}

/** The MCP Gateway checkout: needed for `kind` (cluster) and for `oidc` (token-exchange example). */
function needsCheckout(cfg: StackConfig): boolean {
  return cfg.cluster.mode === "kind" || cfg.useCase !== "no-auth";
}

export function buildNoAuth(cfg: StackConfig, projectDir: string = process.cwd()): NoAuthStack {
  const checkout = needsCheckout(cfg) ? new GatewayCheckout("mcp-gateway-checkout", cfg.cluster.kind) : undefined;

  const cluster = new GatewayCluster("cluster", {
    mode: cfg.cluster.mode,
    checkout,
    kindClusterName: cfg.cluster.kind.name,
    adopt: cfg.cluster.kind.adopt,
    checkoutDir: cfg.cluster.kind.dir,
    projectDir,
    kubeconfig: cfg.cluster.kubeconfig,
    context: cfg.cluster.context,
    clusterIdentifier: cfg.cluster.clusterIdentifier,
  });
  const onCluster: pulumi.ComponentResourceOptions = { providers: [cluster.provider] };

  const m = cfg.mcpServer;
  const server = m.manage
    ? new LocalMcpServer("kubernetes-mcp-server", {
        port: m.port,
        bindAddress: m.bindAddress,
        toolsets: m.toolsets,
        disabledTools: disabledTools(cfg),
        // In oidc every call must bring the user's token: no credentials of its own to fall back on.
        kubeconfig:
          cfg.useCase === "no-auth" ? cluster.kubeconfig : cluster.kubeconfig.apply(kubeconfigWithoutCredentials),
        binary: resolveMcpServerBinary(projectDir),
        projectDir,
      })
    : undefined;

  const listener = new GatewayListener(
    m.routeName,
    {
      gatewayName: cfg.gateway.name,
      gatewayNamespace: cfg.gateway.namespace,
      listenerName: cfg.gateway.listenerName,
      hostname: m.host,
      port: cfg.gateway.listenerPort,
      namedFieldManager: true,
    },
    onCluster,
  );

  const registration = new McpServerRoute(
    m.routeName,
    {
      gateway: listener.gatewayRef,
      namespace: m.namespace,
      routeName: m.routeName,
      serviceName: m.serviceName,
      serverName: m.serverName,
      host: m.host,
      port: m.port,
      path: m.path,
      toolPrefix: m.toolPrefix,
      release: RELEASE_FACTS[cfg.gateway.release],
    },
    // The broker checks the server when it registers it: let the process answer first.
    { ...onCluster, dependsOn: server ? [server] : [] },
  );

  return { checkout, cluster, server, listener, registration };
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
