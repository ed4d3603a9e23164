/**
 * Use case 3 (cross-domain): the AuthPolicy's metadata steps that turn the caller's token from the
 * gateway's realm into one the target cluster's realm issues for the same user (Keycloak "identity
 * chaining"), scoped to the MCP server. Authorino runs them in priority order, each reading the
 * previous step's response from `auth.metadata`.
 *
 *   0 `gateway-domain-exchange`  token exchange in the gateway's realm, audience = the cluster realm's
 *                                issuer (that realm accepts an assertion only with aud = its issuer)
 *   1 `domain-grant`             JWT authorization grant (RFC 7523) at the cluster's realm, which
 *                                trusts the gateway's realm as an identity provider
 *   2 `oauth-token-exchange`     token exchange in the cluster's realm to the MCP server's client:
 *                                the step use case 2 has, so the Rego and both checks stay the same
 *
 * No `when`: the chain always runs. A step that fails leaves no token, and the checks then see the
 * caller's own token, whose audience is never the server's.
 */

import type * as crds from "./crds";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const BASIC_KEY = "oauth-client-basic-auth";

export interface DomainChainArgs {
  /** The gateway's realm (the caller's tokens): `<keycloak>/realms/<realm>`. */
  gatewayIssuerUrl: string;
  /** The realm the cluster's API server trusts. */
  domainIssuerUrl: string;
  /** Secret (Authorino's namespace) with the gateway realm's exchange client (use case 2's). */
  gatewayClientSecret: string;
  /** Secret with the cluster realm's grant client. */
  domainClientSecret: string;
}

const tokenEndpoint = (issuer: string) => `${issuer}/protocol/openid-connect/token`;

function step(
  issuer: string,
  secret: string,
  priority: number,
  body: Record<string, { value: string } | { expression: string }>,
): crds.AuthPolicyMetadata {
  return {
    priority,
    http: {
      url: tokenEndpoint(issuer),
      method: "POST",
      credentials: { authorizationHeader: { prefix: "Basic" } },
      sharedSecretRef: { name: secret, key: BASIC_KEY },
      bodyParameters: body,
    },
  };
}

/** The three metadata steps, by name. */
export function domainChainMetadata(a: DomainChainArgs): Record<string, crds.AuthPolicyMetadata> {
  return {
    "gateway-domain-exchange": step(a.gatewayIssuerUrl, a.gatewayClientSecret, 0, {
      grant_type: { value: TOKEN_EXCHANGE },
      subject_token: { expression: "request.headers['authorization'].split('Bearer ')[1]" },
      subject_token_type: { value: ACCESS_TOKEN },
      audience: { value: a.domainIssuerUrl },
    }),
    "domain-grant": step(a.domainIssuerUrl, a.domainClientSecret, 1, {
      grant_type: { value: JWT_BEARER },
      assertion: { expression: "auth.metadata['gateway-domain-exchange'].access_token" },
    }),
    "oauth-token-exchange": step(a.domainIssuerUrl, a.domainClientSecret, 2, {
      grant_type: { value: TOKEN_EXCHANGE },
      subject_token: { expression: "auth.metadata['domain-grant'].access_token" },
      subject_token_type: { value: ACCESS_TOKEN },
      audience: { expression: "request.headers['x-mcp-servername']" },
      // Not use case 2's `groups`: a realm has no such client scope unless someone made one, and
      // the cluster binds the user, not a group.
      scope: { value: "openid profile" },
    }),
  };
}

/** The Secret value Authorino sends as `Authorization: Basic ...` for a client. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  return Buffer.from(`${clientId}:${clientSecret}`).toString("base64");
}

export const CHAIN_SECRET_KEY = BASIC_KEY;
