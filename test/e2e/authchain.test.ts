import { evaluate } from "@marcbachmann/cel-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUIDE_TOOLS } from "../../components/tools";
import { scratchStack, type Scratch } from "./engine";
import { mcpSession } from "./mcp";
import {
  freePort,
  standIns,
  startApiServer,
  startKeycloak,
  authorino,
  tearDownStack,
  useTestBed,
  type Api,
  type ApiServer,
  type Keycloak,
} from "./testbed";

// Use case 2's chain with real tokens (a first part of issue 7): the user's token from Keycloak,
// the standard token exchange by the gateway's client with the credentials of the token-exchange
// Secret, then the exchanged token at the kubernetes-mcp-server the stack started, which hands it
// to the API server: authenticated by the Kind config's OIDC flags, authorized by the stack's
// ClusterRoleBinding; and the AuthPolicy, as the API server holds it, on these tokens with
// Authorino's own CEL (cel-go) and Rego (OPA) from testbed/authz.
const TAG = "guide-397bf8d";
const AUDIENCE = "mcp-test/kubernetes-mcp";
const AUTH_POLICY = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-auth-policy";
const BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-cluster-admin";

let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;
let port: number;
let realm: Api;
let userToken = "";
let exchanged = "";

/** The exchange the AuthPolicy's metadata step makes (its body parameters), of mcp's token. */
async function exchangeFor(audience: string): Promise<string> {
  const [id, secret] = (await gatewayCredentials()).split(":");
  const exchange = await realm.form("/realms/mcp/protocol/openid-connect/token", {
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    client_id: id,
    client_secret: secret,
    subject_token: userToken,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience,
    scope: "openid profile groups",
  });
  if (exchange.status !== 200) throw new Error(`token exchange for ${audience}: ${exchange.status} ${exchange.text}`);
  return exchange.json.access_token;
}

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
const mcpUrl = () => `http://127.0.0.1:${port}/mcp`;

/** The gateway client's `id:secret`, as the stack's AuthPolicy reads it from the Secret. */
async function gatewayCredentials(): Promise<string> {
  const secret = (await apiServer.kube.get("/api/v1/namespaces/kuadrant-system/secrets/token-exchange")).json;
  // data = base64(stringData), and stringData is itself base64("mcp-gateway:secret").
  const basic = Buffer.from(secret.data["oauth-client-basic-auth"], "base64").toString("utf8");
  return Buffer.from(basic, "base64").toString("utf8");
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG });
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port, keycloak, useCase: "oidc" });
  expect((await s.stack.up()).summary.result).toBe("succeeded");
  realm = keycloak.api;
  // Test bed only: the realm's gateway client has direct access grants off; the test logs `mcp`
  // in with a password grant instead of a browser.
  const admin = await keycloak.admin();
  const [client] = (await admin.get("/admin/realms/mcp/clients?clientId=mcp-gateway")).json;
  const res = await admin.request("PUT", `/admin/realms/mcp/clients/${client.id}`, {
    ...client,
    directAccessGrantsEnabled: true,
  });
  expect(res.status).toBe(204);
});

afterAll(async () => {
  await tearDownStack(s);
  apiServer?.stop();
  keycloak?.stop();
});

describe("use case 2 with real tokens: Keycloak exchange, the MCP server, the API server's OIDC", () => {
  it("exchanges mcp's token for one whose audience is the MCP server's client and that holds the group's 22 roles", async () => {
    const [id, secret] = (await gatewayCredentials()).split(":");
    const user = await realm.form("/realms/mcp/protocol/openid-connect/token", {
      grant_type: "password",
      client_id: id,
      client_secret: secret,
      username: "mcp",
      password: "mcp",
      scope: "openid profile groups",
    });
    expect(user.status, user.text).toBe(200);
    userToken = user.json.access_token;
    exchanged = await exchangeFor(AUDIENCE);
    const c = claims(exchanged);
    expect(c.iss).toBe(keycloak.issuer);
    expect(c.aud).toBe(AUDIENCE);
    expect(c.azp).toBe("mcp-gateway");
    expect(c.preferred_username).toBe("mcp");
    expect([...c.resource_access[AUDIENCE].roles].sort()).toEqual([...GUIDE_TOOLS].sort());
  });

  it("the AuthPolicy as the API server holds it admits namespaces_list on these real tokens and refuses what it should (Authorino's cel-go and OPA; cel-js agrees)", async () => {
    // Read back from the API server. Authorino's order: the Rego picks the exchanged token (or the
    // caller's) and decodes it; its result is auth.authorization.token for the two CEL checks.
    const rules = (await apiServer.kube.get(AUTH_POLICY)).json.spec.rules;
    const cel = {
      exchangeWhen: rules.metadata["oauth-token-exchange"].when[0].predicate,
      scopedAudience: rules.authorization["scoped-audience-check"].patternMatching.patterns[0].predicate,
      toolAccess: rules.authorization["tool-access-check"].patternMatching.patterns[0].predicate,
    };
    const rego = rules.authorization.token.opa.rego;
    const decide = (tool: string, scoped: string | undefined) => {
      const headers = { "x-mcp-servername": AUDIENCE, "x-mcp-toolname": tool, authorization: `Bearer ${userToken}` };
      const identity = claims(userToken);
      const metadata = scoped ? { "oauth-token-exchange": { access_token: scoped } } : {};
      const token = authorino({}, rego, { auth: { identity, metadata }, request: { headers } }).rego;
      const input = { auth: { identity, authorization: { token } }, request: { headers } };
      const go = authorino(cel, null, input).cel;
      // The JavaScript CEL the unit tests use must agree with Authorino's on every real case.
      for (const [name, expr] of Object.entries(cel)) expect(evaluate(expr, input), name).toEqual(go[name]);
      return { token, go, admitted: go.scopedAudience === true && go.toolAccess === true };
    };
    const allowed = decide("namespaces_list", exchanged);
    expect(allowed.go.exchangeWhen).toBe(true); // the caller's token is not scoped: exchange it
    expect((allowed.token as { claims: unknown }).claims).toEqual(claims(exchanged));
    expect(allowed.admitted).toBe(true);
    expect(decide("pods_delete", exchanged).admitted).toBe(true);
    // Refused: a tool the group grants no role for, the caller's token as it is (no exchange),
    // and a token exchanged for another server.
    expect(decide("resources_scale", exchanged).admitted).toBe(false);
    expect(decide("namespaces_list", undefined).admitted).toBe(false);
    expect(decide("namespaces_list", await exchangeFor("mcp-test/mcp-server1-route")).admitted).toBe(false);
  });

  it("the API server authenticates the exchanged token as <issuer>#mcp", async () => {
    const review = await apiServer.kube
      .withToken(exchanged)
      .request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
        apiVersion: "authentication.k8s.io/v1",
        kind: "SelfSubjectReview",
      });
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${keycloak.issuer}#mcp`);
    expect(review.json.status.userInfo.groups).toContain("engineering");
  });

  it("namespaces_list through the stack's kubernetes-mcp-server with that token succeeds", async () => {
    const result = await (await mcpSession(mcpUrl(), exchanged)).call("namespaces_list");
    expect(result.result?.isError ?? false).toBe(false);
    expect(result.result?.content.map((c) => c.text).join("\n")).toContain("mcp-test");
  });

  it("without a token the server still lists its tools (the broker's discovery) but cannot act: no admin fallback", async () => {
    const anonymous = await mcpSession(mcpUrl());
    expect(await anonymous.toolNames()).toContain("namespaces_list");
    const result = await anonymous.call("namespaces_list");
    expect(result.result?.isError || result.error !== undefined).toBe(true);
    expect(JSON.stringify(result)).not.toContain("mcp-test");
  });

  it("a token the API server does not trust is refused, not replaced by the server's own credentials", async () => {
    const forged = `${exchanged.split(".").slice(0, 2).join(".")}.c2lnbmF0dXJl`;
    const result = await (await mcpSession(mcpUrl(), forged)).call("namespaces_list");
    expect(result.result?.isError || result.error !== undefined).toBe(true);
  });

  it("without the ClusterRoleBinding the API server refuses the same call; up --refresh puts the binding back", async () => {
    expect((await apiServer.kube.request("DELETE", BINDING)).status).toBe(200);
    const refused = await (await mcpSession(mcpUrl(), exchanged)).call("namespaces_list");
    expect(refused.result?.isError).toBe(true);
    expect(refused.result?.content.map((c) => c.text).join("\n")).toContain(
      `User "${keycloak.issuer}#mcp" cannot list resource "namespaces"`,
    );
    expect((await s.stack.up({ refresh: true })).summary.result).toBe("succeeded");
    const again = await (await mcpSession(mcpUrl(), exchanged)).call("namespaces_list");
    expect(again.result?.isError ?? false).toBe(false);
  });
});
