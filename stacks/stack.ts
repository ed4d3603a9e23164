import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { buildNoAuth, gatewayMcpUrl, inspectorCommand, type NoAuthStack } from "./noAuth";
import { buildOidc, type OidcStack } from "./oidc";

export interface StackOutputs {
  mcpGatewayUrl: string;
  toolPrefix: string;
  /** The tool names as a client of the gateway sees them (prefixed). */
  toolNames: string[];
  inspectorCommand: string;
  /** `oidc` only: the Keycloak client id of the MCP server (`<namespace>/<route>`). */
  keycloakClientId?: pulumi.Output<string>;
}

/** Builds the graph the use case asks for and the outputs a user needs next. */
export function buildStack(
  cfg: StackConfig,
  projectDir?: string,
): { resources: NoAuthStack | OidcStack; outputs: StackOutputs } {
  const oidc = cfg.useCase === "oidc" ? buildOidc(cfg, projectDir) : undefined;
  const resources = oidc ?? buildNoAuth(cfg, projectDir);
  const url = gatewayMcpUrl(cfg);
  const outputs: StackOutputs = {
    mcpGatewayUrl: url,
    toolPrefix: cfg.mcpServer.toolPrefix,
    toolNames: cfg.mcpServer.tools.map((t) => cfg.mcpServer.toolPrefix + t),
    inspectorCommand: inspectorCommand(url),
  };
  if (oidc) outputs.keycloakClientId = oidc.access.clientId;
  return { resources, outputs };
}
