import { evaluate } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import { authPolicyRules, authRules } from "../components/toolAuthPolicy";

// The CEL the AuthPolicy carries, evaluated by a real CEL implementation on the request and
// token shapes Authorino hands it (`request.headers`, `auth.identity`, `auth.authorization`).
const SERVER = "mcp-test/kubernetes-mcp";

interface Case {
  tool: string;
  /** Claims of the token that reaches the authorization phase (the exchanged one). */
  claims: Record<string, unknown>;
}

const request = (tool: string) => ({
  headers: { "x-mcp-toolname": tool, "x-mcp-servername": SERVER, authorization: "Bearer caller.jwt.token" },
});

const context = ({ tool, claims }: Case) => ({
  request: request(tool),
  auth: { identity: claims, authorization: { token: { claims, jwt: "scoped.jwt.token" } } },
});

/** Both pattern-matching rules must hold for Authorino to let the call through. */
const allowed = (c: Case): boolean =>
  evaluate(authRules.scopedAudience, context(c)) === true && evaluate(authRules.toolAccess, context(c)) === true;

const roles = (...r: string[]) => ({ resource_access: { [SERVER]: { roles: r } } });

describe("the AuthPolicy's CEL predicates", () => {
  it("allow a tool whose client role the scoped token carries", () => {
    expect(allowed({ tool: "pods_list", claims: { aud: SERVER, ...roles("pods_list", "namespaces_list") } })).toBe(
      true,
    );
  });

  it("deny a tool whose role is missing", () => {
    expect(allowed({ tool: "pods_delete", claims: { aud: SERVER, ...roles("pods_list") } })).toBe(false);
  });

  it("deny a token scoped to another audience, even with the role", () => {
    const claims = { aud: "mcp-test/other-server", ...roles("pods_list") };
    expect(evaluate(authRules.scopedAudience, context({ tool: "pods_list", claims }))).toBe(false);
    expect(allowed({ tool: "pods_list", claims })).toBe(false);
  });

  it("deny a token whose audience is a list (not yet exchanged)", () => {
    expect(allowed({ tool: "pods_list", claims: { aud: [SERVER, "account"], ...roles("pods_list") } })).toBe(false);
  });

  it("deny a token with no resource_access", () => {
    expect(evaluate(authRules.toolAccess, context({ tool: "pods_list", claims: { aud: SERVER } }))).toBe(false);
  });

  it("deny roles granted on another client", () => {
    const claims = { aud: SERVER, resource_access: { "mcp-test/other-server": { roles: ["pods_list"] } } };
    expect(allowed({ tool: "pods_list", claims })).toBe(false);
  });

  it("want a token exchange when the caller's audience differs from the server", () => {
    const exchange = (aud: unknown) =>
      evaluate(authRules.exchangeWhen, { request: request("pods_list"), auth: { identity: { aud } } });
    expect(exchange("mcp-gateway")).toBe(true);
    expect(exchange(["mcp-gateway", "account"])).toBe(true);
    expect(exchange(SERVER)).toBe(false);
  });

  it("send Keycloak the caller's bearer token and this server as the audience", () => {
    const params = authPolicyRules({
      issuerUrl: "https://kc/realms/mcp",
      tokenExchangeSecret: "s",
      resourceMetadataUrl: "u",
    }).metadata["oauth-token-exchange"].http.bodyParameters;
    const ctx = { request: request("pods_list") };
    expect(evaluate(params.subject_token.expression, ctx)).toBe("caller.jwt.token");
    expect(evaluate(params.audience.expression, ctx)).toBe(SERVER);
  });

  it("forward the scoped token to the MCP server", () => {
    const rules = authPolicyRules({
      issuerUrl: "https://kc/realms/mcp",
      tokenExchangeSecret: "s",
      resourceMetadataUrl: "u",
    });
    const header = rules.response.success.headers.authorization.plain.expression;
    expect(evaluate(header, context({ tool: "x", claims: {} }))).toBe("Bearer scoped.jwt.token");
  });
});
