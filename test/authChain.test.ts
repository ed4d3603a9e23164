import { evaluate } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import { authPolicyRules } from "../components/toolAuthPolicy";
import { GUIDE_TOOLS } from "../components/tools";
import type { Evaluators } from "../testbed/authz/authorino";
import { claimsOf } from "../testbed/jwt";
import {
  CHAIN_CASES,
  OTHER_SERVER,
  REMOVED_TOOL,
  SERVER,
  decide,
  type CallerToken,
  type ScopedToken,
} from "./support/authChain";

// The table of use case 2's cases on synthetic tokens shaped like Keycloak's (the real-engine test
// runs the same table on real ones). The CEL is real (cel-js); the JWT step checks only `exp`
// (there is no signature to check here) and the Rego is modelled by what token.rego computes,
// both of which test/e2e/authchain.test.ts runs for real.
const ISSUER = "https://keycloak.example/realms/mcp";
const now = Math.floor(Date.now() / 1000);
const jwt = (claims: Record<string, unknown>) =>
  ["{}", JSON.stringify(claims), "sig"].map((p) => Buffer.from(p).toString("base64url")).join(".");
const base = { iss: ISSUER, azp: "mcp-gateway", exp: now + 300, preferred_username: "mcp" };

const callers: Record<CallerToken, string> = {
  mcp: jwt({ ...base, aud: "account", groups: ["engineering"] }),
  "mcp-expired": jwt({ ...base, aud: "account", exp: now - 10 }),
  outsider: jwt({ ...base, aud: "account", preferred_username: "outsider", groups: [] }),
};
const roles = (client: string, tools: string[]) => ({ resource_access: { [client]: { roles: tools } } });
const scopedTokens: Record<Exclude<ScopedToken, null>, string | undefined> = {
  "mcp-for-server": jwt({ ...base, aud: SERVER, ...roles(SERVER, [...GUIDE_TOOLS]) }),
  "mcp-for-server-after-removal": jwt({
    ...base,
    aud: SERVER,
    ...roles(
      SERVER,
      GUIDE_TOOLS.filter((t) => t !== REMOVED_TOOL),
    ),
  }),
  "mcp-for-other-server": jwt({ ...base, aud: OTHER_SERVER, ...roles(OTHER_SERVER, [...GUIDE_TOOLS]) }),
  // Keycloak refuses the exchange for a user holding none of the client's roles (measured in e2e).
  "outsider-for-server": undefined,
};

const synthetic: Evaluators = {
  verifyJwt: (token) => {
    const claims = claimsOf(token);
    return (claims.exp as number) > Math.floor(Date.now() / 1000) ? { claims } : { error: "oidc: token is expired" };
  },
  cel: (exprs, input) => Object.fromEntries(Object.entries(exprs).map(([k, e]) => [k, evaluate(e, input)])),
  rego: (_rego, input) => {
    const auth = input.auth as { metadata: Record<string, { access_token?: string }> };
    const request = input.request as { headers: Record<string, string> };
    const token =
      auth.metadata["oauth-token-exchange"]?.access_token ?? request.headers.authorization.split("Bearer ")[1];
    return { allow: true, jwt: token, claims: claimsOf(token) };
  },
};

const rules = authPolicyRules({ issuerUrl: ISSUER, tokenExchangeSecret: "s", resourceMetadataUrl: "u" });

describe("how use case 2 decides a tool call (synthetic tokens)", () => {
  it.each(CHAIN_CASES)("$title: $verdict", ({ tool, caller, scoped, verdict }) => {
    const decision = decide(rules, synthetic, {
      callerJwt: callers[caller],
      scopedJwt: scoped ? scopedTokens[scoped] : undefined,
      tool,
    });
    expect(decision.verdict).toBe(verdict);
  });

  it("asks for the exchange of every caller token the JWT step accepts (none is scoped to the server yet)", () => {
    const decision = decide(rules, synthetic, { callerJwt: callers.mcp, tool: "namespaces_list" });
    expect(decision.exchangeWanted).toBe(true);
  });
});
