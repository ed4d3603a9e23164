import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUIDE_TOOLS } from "../../components/tools";
import { selfSubjectReview, startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { authorinoEvaluators } from "../../testbed/authz/authorino";
import { tokenExchangeBasic } from "../../testbed/authz/metadata";
import { scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { claimsOf } from "../../testbed/jwt";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { callTool } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { decide, type ChainRules } from "../support/authChain";

// Use case 2 with gateway.release kuadrant-v0.9.0 and real tokens: Keycloak with v0.9.0's realm
// (client mcp-test/kubernetes-mcp-server, `tool:` roles, mcp in engineering), an API server with
// v0.9.0's Kind OIDC flags (client id mcp-test/kubernetes-mcp-server), the stack's oidc `up` adopting
// the realm's objects, then the exchanged token through the applied AuthPolicy (Authorino's own
// libraries) and through the stack's kubernetes-mcp-server to the API server.
const TAG = "kuadrant-v0.9.0";
const SERVER = "mcp-test/kubernetes-mcp-server";
const AUTH_POLICY = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-auth-policy";

let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;
let port: number;
let rules: ChainRules & { authentication: { keycloak: { jwt: { issuerUrl: string } } } };
let userToken = "";
let exchanged = "";

const real = () =>
  authorinoEvaluators({ issuerUrl: () => rules.authentication.keycloak.jwt.issuerUrl, ca: () => keycloak.ca });

async function token(fields: Record<string, string>): Promise<string> {
  const res = await keycloak.api
    .withAuthorization(`Basic ${await tokenExchangeBasic(apiServer)}`)
    .form("/realms/mcp/protocol/openid-connect/token", { scope: "openid profile groups", ...fields });
  if (res.status !== 200) throw new Error(`Keycloak: expected HTTP 200, got ${res.status} ${res.text}`);
  return res.json.access_token;
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG }, TAG);
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port, keycloak, useCase: "oidc" });
  await s.stack.setConfig("gateway.release", { value: TAG }, true);
  expect((await s.stack.up()).summary.result).toBe("succeeded");
  rules = (await apiServer.kube.get(AUTH_POLICY)).json.spec.rules;
});

afterAll(async () => {
  await tearDownStack(s);
  apiServer?.stop();
  keycloak?.stop();
});

describe("gateway.release kuadrant-v0.9.0, use case 2 with real tokens", () => {
  it("the exchange for the registration's client yields the group's 22 `tool:` roles", async () => {
    // v0.9.0's realm allows password grants for the gateway's client.
    userToken = await token({ grant_type: "password", username: "mcp", password: "mcp" });
    exchanged = await token({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: userToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: SERVER,
    });
    const c = claimsOf(exchanged) as Record<string, any>;
    expect(c.aud).toBe(SERVER);
    expect([...c.resource_access[SERVER].roles].sort()).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
  });

  it("the applied AuthPolicy admits namespaces_list and refuses resources_scale on those tokens (Authorino's go-oidc, OPA, cel-go)", () => {
    const call = (tool: string) =>
      decide(rules, real(), { callerJwt: userToken, scopedJwt: exchanged, tool, server: SERVER }).verdict;
    expect(call("namespaces_list")).toBe("allowed");
    expect(call("resources_scale")).toBe("tool-access-check");
  });

  it("namespaces_list through the stack's server with the exchanged token: the API server (client id mcp-test/kubernetes-mcp-server) lets <issuer>#mcp in", async () => {
    const review = await selfSubjectReview(apiServer, exchanged);
    expect(review.json.status?.userInfo?.username, review.text).toBe(`${keycloak.issuer}#mcp`);
    const result = await callTool(`http://127.0.0.1:${port}/mcp`, "namespaces_list", exchanged);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).toContain("mcp-test");
  });
});
