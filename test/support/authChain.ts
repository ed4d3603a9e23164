/**
 * How use case 2 decides a tool call, as one table of cases run twice: by the unit tests on
 * synthetic tokens (cel-js, test/authChain.test.ts) and by the real-engine tests on Keycloak's
 * tokens (Authorino's own cel-go, OPA and go-oidc from testbed/authz, test/e2e/authchain.test.ts).
 * Both walk the AuthPolicy's rules in Authorino's order with `decide` below.
 */
import type { Evaluators } from "../../testbed/authz/authorino";

/** The MCP server's Keycloak client: the audience the exchange asks for, the roles' client. */
export const SERVER = "mcp-test/kubernetes-mcp";
/** Another server's client in the guide's realm, for a token exchanged for the wrong audience. */
export const OTHER_SERVER = "mcp-test/mcp-server1-route";
/** The tool whose role the stack takes away (mcpServer.tools without it, then `up`). */
export const REMOVED_TOOL = "pods_delete";

/** Allowed, or the rule of the AuthPolicy that refuses the call. */
export type Verdict = "allowed" | "jwt" | "scoped-audience-check" | "tool-access-check";

/** The caller's token, as the MCP client sends it to the gateway. */
export type CallerToken =
  | "mcp" // user mcp (group engineering), token from the gateway's client
  | "mcp-expired" // the same, past its `exp`
  | "outsider"; // a user of the realm outside the group

/** What the exchange (the AuthPolicy's metadata step) returned: a token, or nothing when refused. */
export type ScopedToken =
  | "mcp-for-server" // mcp's token exchanged for SERVER
  | "mcp-for-server-after-removal" // the same, after the stack took REMOVED_TOOL's role away
  | "mcp-for-other-server" // mcp's token exchanged for OTHER_SERVER
  | "outsider-for-server" // the outsider's exchange for SERVER (null when Keycloak refuses it)
  | null; // no exchange

export interface ChainCase {
  title: string;
  tool: string;
  caller: CallerToken;
  scoped: ScopedToken;
  verdict: Verdict;
}

export const CHAIN_CASES: ChainCase[] = [
  {
    title: "namespaces_list, with the group's role, on the exchanged token",
    tool: "namespaces_list",
    caller: "mcp",
    scoped: "mcp-for-server",
    verdict: "allowed",
  },
  {
    title: "a tool the group has no role for (resources_scale)",
    tool: "resources_scale",
    caller: "mcp",
    scoped: "mcp-for-server",
    verdict: "tool-access-check",
  },
  {
    title: `a tool whose role the stack removed from the group (${REMOVED_TOOL})`,
    tool: REMOVED_TOOL,
    caller: "mcp",
    scoped: "mcp-for-server-after-removal",
    verdict: "tool-access-check",
  },
  {
    title: "the caller's own token when no exchange happened",
    tool: "namespaces_list",
    caller: "mcp",
    scoped: null,
    verdict: "scoped-audience-check",
  },
  {
    title: "a token exchanged for another server's audience",
    tool: "namespaces_list",
    caller: "mcp",
    scoped: "mcp-for-other-server",
    verdict: "scoped-audience-check",
  },
  {
    title: "a user outside the engineering group",
    tool: "namespaces_list",
    caller: "outsider",
    scoped: "outsider-for-server",
    verdict: "scoped-audience-check",
  },
  {
    title: "an expired token",
    tool: "namespaces_list",
    caller: "mcp-expired",
    scoped: "mcp-for-server",
    verdict: "jwt",
  },
];

/** The parts of the AuthPolicy's `spec.rules` the decision reads (as applied, or as built). */
export interface ChainRules {
  /** Use case 3's last step has no `when`: the chain always runs. */
  metadata: { "oauth-token-exchange": { when?: Array<{ predicate: string }> } };
  authorization: {
    token: { opa: { rego: string } };
    "scoped-audience-check": { patternMatching: { patterns: Array<{ predicate: string }> } };
    "tool-access-check": { patternMatching: { patterns: Array<{ predicate: string }> } };
  };
}

export interface Decision {
  verdict: Verdict;
  /** Whether the metadata step's `when` asks for an exchange of the caller's token. */
  exchangeWanted: boolean;
  /** auth.authorization.token: what the Rego made of the scoped (or caller's) token. */
  token?: Record<string, unknown>;
  /** Why the JWT step refused, when it did. */
  jwtError?: string;
}

/**
 * One call through the AuthPolicy, in Authorino's phases: authentication (`jwt`), metadata (the
 * exchange, its token passed in as `scopedJwt`), then authorization (`token` by Rego, then the two
 * CEL checks, each of which must hold).
 */
export function decide(
  rules: ChainRules,
  evaluators: Evaluators,
  call: { callerJwt: string; scopedJwt?: string; tool: string; server?: string },
): Decision {
  const headers = {
    "x-mcp-servername": call.server ?? SERVER,
    "x-mcp-toolname": call.tool,
    authorization: `Bearer ${call.callerJwt}`,
  };
  const verified = evaluators.verifyJwt(call.callerJwt);
  if ("error" in verified) return { verdict: "jwt", exchangeWanted: false, jwtError: verified.error };
  const identity = verified.claims;
  const exchangeWhen = rules.metadata["oauth-token-exchange"].when?.[0]?.predicate;
  const exchangeWanted =
    exchangeWhen === undefined ||
    evaluators.cel({ exchangeWhen }, { auth: { identity }, request: { headers } }).exchangeWhen;
  // The exchange runs only when its `when` holds; a refused exchange leaves no metadata either.
  const metadata =
    exchangeWanted === true && call.scopedJwt ? { "oauth-token-exchange": { access_token: call.scopedJwt } } : {};
  const token = evaluators.rego(rules.authorization.token.opa.rego, {
    auth: { identity, metadata },
    request: { headers },
  });
  const checks = {
    "scoped-audience-check": rules.authorization["scoped-audience-check"].patternMatching.patterns[0].predicate,
    "tool-access-check": rules.authorization["tool-access-check"].patternMatching.patterns[0].predicate,
  };
  const results = evaluators.cel(checks, { auth: { identity, authorization: { token } }, request: { headers } });
  const failed = (Object.keys(checks) as Array<keyof typeof checks>).find((name) => results[name] !== true);
  return { verdict: failed ?? "allowed", exchangeWanted: exchangeWanted === true, token };
}
