/**
 * What differs between the MCP Gateway releases the stack can register with, in one table the
 * components read (config `gateway.release`). Facts are from each release's tree: the CRDs, the
 * controller's code, the realm import and the Makefile, which win where its guide disagrees.
 */
import type * as crds from "./crds";

export const GATEWAY_RELEASES = ["kagenti", "kuadrant-v0.9.0"] as const;
export type GatewayRelease = (typeof GATEWAY_RELEASES)[number];

export interface ReleaseFacts {
  /** The registration the gateway's controller turns into a broker entry. */
  registration:
    | { apiVersion: crds.MCPServerArgs["apiVersion"]; kind: crds.MCPServerArgs["kind"]; prefixField: "toolPrefix" }
    | {
        apiVersion: crds.MCPServerRegistrationArgs["apiVersion"];
        kind: crds.MCPServerRegistrationArgs["kind"];
        prefixField: "prefix";
      };
  /**
   * What names the server to the router (`x-mcp-servername`), and so the Keycloak client id, the
   * exchanged token's audience and the Kind API server's oidc-client-id: `<namespace>/<name>` of
   * the HTTPRoute (kagenti's controller) or of the registration (Kuadrant's).
   */
  serverIdFrom: "route" | "registration";
  /** Prefix of the client roles in the realm, which the AuthPolicy's tool check must add too. */
  rolePrefix: string;
  /** The make target that installs the token exchange example (the `token-exchange` Secret). */
  tokenExchangeTarget: string;
  /** Where the release comes from, and the commit the stack was checked against. */
  repoUrl: string;
  ref: string;
  /** Whether the realm import at `ref` already holds the client, its roles and the group. */
  realmHoldsToolAccess: boolean;
  /** Registration prefixes this release accepts (its CRD's pattern), or undefined for any. */
  prefixPattern?: RegExp;
}

export const RELEASE_FACTS: Record<GatewayRelease, ReleaseFacts> = {
  // kagenti/mcp-gateway up to its last commit (1eeb671); the guide was written at 397bf8d.
  kagenti: {
    registration: { apiVersion: "mcp.kagenti.com/v1alpha1", kind: "MCPServer", prefixField: "toolPrefix" },
    serverIdFrom: "route",
    rolePrefix: "",
    tokenExchangeTarget: "oauth-token-exchange-example-setup",
    repoUrl: "https://github.com/kagenti/mcp-gateway.git",
    ref: "397bf8d68a67e53914c5712b53bac49d15c49344",
    realmHoldsToolAccess: false,
  },
  // Kuadrant/mcp-gateway v0.9.0 (c18d2db): MCPServerRegistration, `tool:` roles, auth-example-setup.
  "kuadrant-v0.9.0": {
    registration: { apiVersion: "mcp.kuadrant.io/v1", kind: "MCPServerRegistration", prefixField: "prefix" },
    serverIdFrom: "registration",
    rolePrefix: "tool:",
    tokenExchangeTarget: "auth-example-setup",
    repoUrl: "https://github.com/Kuadrant/mcp-gateway.git",
    ref: "c18d2db78e2814bb13dd7318a52be4076f6327a6",
    realmHoldsToolAccess: true,
    prefixPattern: /^[a-z0-9][a-z0-9_]*$/,
  },
};

/** The server's name for this release from config values (the preflight's client id, before any resource exists). */
export function serverIdOf(
  release: ReleaseFacts,
  m: { namespace: string; routeName: string; serverName: string },
): string {
  return `${m.namespace}/${release.serverIdFrom === "route" ? m.routeName : m.serverName}`;
}
