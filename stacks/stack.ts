import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { buildNoAuth, disabledTools, gatewayMcpUrl, inspectorCommand, type NoAuthStack } from "./noAuth";
import { buildCrossDomain, type CrossDomainStack } from "./crossDomain";
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
): { resources: NoAuthStack | OidcStack | CrossDomainStack; outputs: StackOutputs } {
  const crossDomain = cfg.useCase === "cross-domain" ? buildCrossDomain(cfg, projectDir) : undefined;
  const oidc = crossDomain ?? (cfg.useCase === "oidc" ? buildOidc(cfg, projectDir) : undefined);
  const resources = oidc ?? buildNoAuth(cfg, projectDir);
  const url = gatewayMcpUrl(cfg);
  const outputs: StackOutputs = {
    mcpGatewayUrl: url,
    toolPrefix: cfg.mcpServer.toolPrefix,
    // Every server's tools, as the gateway lists them: use case 3 adds each domain's prefix.
    toolNames: [
      cfg.mcpServer.toolPrefix,
      ...(cfg.useCase === "cross-domain" ? cfg.domains.map((d) => d.toolPrefix) : []),
    ].flatMap((prefix) => cfg.mcpServer.tools.filter((t) => !disabledTools(cfg).includes(t)).map((t) => prefix + t)),
    inspectorCommand: inspectorCommand(url),
  };
  if (oidc) outputs.keycloakClientId = oidc.access.clientId;
  return { resources, outputs };
}
