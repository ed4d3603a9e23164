import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUIDE_TOOLS } from "../../components/tools";
import { selfSubjectReview, startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { authorinoEvaluators } from "../../testbed/authz/authorino";
import { resend, runMetadata, type MetadataStep } from "../../testbed/authz/metadata";
import { REPO_ROOT, scratchStack, stepCounter, type Scratch } from "../../testbed/engine/engine";
import {
  CROSS_DOMAIN_ONCE,
  CROSS_DOMAIN_PER_CLUSTER,
  NO_AUTH_PLAN,
  OIDC_ADDS,
  sumPlans,
} from "../../testbed/engine/plans";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import type { Api } from "../../testbed/https";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, printClaims, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createRealm, createUser, type Realm } from "../../testbed/keycloak/realms";
import { callTool } from "../../testbed/mcp";
import { freePort, portAnswers, processesWith } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { decide, type ChainRules } from "../support/authChain";

// Use case 3 on the real engine: the gateway's cluster (a loopback API server trusting realm mcp)
// and cluster b (another one, trusting realm cluster-b of the same Keycloak, built with the preview
// feature jwt-authorization-grant), one `pulumi up` of a cross-domain stack with both clusters, then
// the chain with real tokens: the three metadata steps of b's AuthPolicy as the API server holds it,
// sent to Keycloak as Authorino would (runMetadata), the final token at b's API server and at b's
// kubernetes-mcp-server the stack started; then destroy, which must leave both clusters and both
// realms as they were.
const TAG = "guide-397bf8d";
const SERVER_A = "mcp-test/kubernetes-mcp";
const SERVER_B = "mcp-test/kubernetes-mcp-b";
const HOST_B = "kube-b.mcp.test";
const ONLY_IN_B = "only-in-cluster-b";
const UNLINKED = { username: "unlinked", password: "unlinked-pw-8b1f" };
const A = "/admin/realms/mcp";
const B = "/admin/realms/cluster-b";
const POLICY = (name: string) => `/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/${name}`;
const BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-cluster-admin";
const ROUTE_B = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp-b";
const GRANT_SECRET = "/api/v1/namespaces/kuadrant-system/secrets/kubernetes-mcp-b-grant";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";

let keycloak: Keycloak;
let realmB: Realm;
let gatewayApi: ApiServer;
let clusterB: ApiServer;
let s: Scratch;
let port: number;
let portB: number;
let admin: Api;
let upCreates: Record<string, number>;
let login: (username: string, password: string) => Promise<string>;
/** The AuthPolicies' rules as the gateway's API server holds them. */
const applied: Record<"a" | "b", ChainRules & { metadata: Record<string, MetadataStep> }> = {} as never;
const tokens: Record<string, string> = {};

const mcpUrl = (p: number) => `http://127.0.0.1:${p}/mcp`;
const get = (path: string) => admin.get(path).then((r) => r.json);

/** The metadata steps of a cluster's AuthPolicy for a call carrying `callerJwt`, run as Authorino runs them. */
const chain = (cluster: "a" | "b", callerJwt: string) =>
  runMetadata(applied[cluster].metadata, {
    headers: { authorization: `Bearer ${callerJwt}`, "x-mcp-servername": cluster === "a" ? SERVER_A : SERVER_B },
    identity: claimsOf(callerJwt),
    ca: keycloak.ca,
    apiServer: gatewayApi,
  });

const show = (label: string, token: string) => printClaims("crossdomain", label, token);

const real = authorinoEvaluators({ issuerUrl: () => keycloak.issuer, ca: () => keycloak.ca });

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  realmB = await createRealm(keycloak, "cluster-b");
  gatewayApi = startApiServer({ keycloak, tag: TAG });
  clusterB = startApiServer({ keycloak, tag: TAG, issuer: realmB.issuer, clientId: SERVER_B });
  const ns = await clusterB.kube.request("POST", "/api/v1/namespaces", { metadata: { name: ONLY_IN_B } });
  expect(ns.status, ns.text).toBe(201);
  s = await scratchStack("dev", standIns().env);
  [port, portB] = [freePort(), freePort()];
  await useTestBed(s.stack, { apiServer: gatewayApi, tag: TAG, port, keycloak, useCase: "cross-domain" });
  await s.stack.setAllConfig(
    {
      "domains[0].name": { value: "b" },
      "domains[0].realm": { value: realmB.name },
      "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
      "domains[0].port": { value: String(portB) },
      "domains[0].host": { value: HOST_B },
    },
    true,
  );
  const creates = stepCounter("create");
  // With the policy pack: in an up every value is known, the grant Secret's included.
  const up = await s.stack.up({ onEvent: creates.onEvent, policyPacks: [path.join(REPO_ROOT, "policy")] });
  expect(up.summary.result).toBe("succeeded");
  expect(up.stdout).toContain("mcp-gateway-stack@v0.1.0");
  expect(up.stdout).not.toMatch(/can't run policy|mandatory|advisory/);
  upCreates = creates.counts;
  applied.a = (await gatewayApi.kube.get(POLICY("kubernetes-mcp-auth-policy"))).json.spec.rules;
  applied.b = (await gatewayApi.kube.get(POLICY("kubernetes-mcp-b-auth-policy"))).json.spec.rules;
  admin = await keycloak.admin();
  // Test bed only: direct grants for the gateway's client (a password login instead of a browser),
  // and a user of realm mcp in engineering whom realm cluster-b does not know.
  login = await passwordLogin(keycloak);
  await createUser(admin, A, { ...UNLINKED, groups: ["/engineering"] });
  tokens.caller = await login("mcp", "mcp");
});

afterAll(async () => {
  await tearDownStack(s);
  clusterB?.stop();
  gatewayApi?.stop();
  keycloak?.stop();
});

describe("use case 3 on the real engine: one up for the gateway's cluster and cluster b", () => {
  it("up creates exactly use case 2's resources, those added once, and one cluster's worth", () => {
    expect(upCreates).toEqual(sumPlans(NO_AUTH_PLAN, OIDC_ADDS, CROSS_DOMAIN_ONCE, CROSS_DOMAIN_PER_CLUSTER));
  });

  it("realm cluster-b trusts realm mcp for the grant, for mcp only (linked to realm mcp's user)", async () => {
    const [idp] = [await get(`${B}/identity-provider/instances/gateway`)];
    expect(idp.config).toMatchObject({ issuer: keycloak.issuer, jwtAuthorizationGrantEnabled: "true" });
    const [mcpA] = await get(`${A}/users?username=mcp&exact=true`);
    const [mcpB] = await get(`${B}/users?username=mcp&exact=true`);
    expect(await get(`${B}/users/${mcpB.id}/federated-identity`)).toEqual([
      { identityProvider: "gateway", userId: mcpA.id, userName: "mcp" },
    ]);
    const [grant] = await get(`${B}/clients?clientId=mcp-gateway`);
    expect(grant).toMatchObject({ publicClient: false });
    expect(grant.attributes).toMatchObject({
      "oauth2.jwt.authorization.grant.enabled": "true",
      "oauth2.jwt.authorization.grant.idp": "gateway",
      "standard.token.exchange.enabled": "true",
    });
    const [audience] = await get(`${A}/clients?clientId=${encodeURIComponent(realmB.issuer)}`);
    expect((await get(`${A}/clients/${audience.id}/roles`)).map((r: { name: string }) => r.name)).toEqual(["chain"]);
  });

  it("the chain turns mcp's realm-mcp token into realm cluster-b's token for b's server, step by step", async () => {
    const run = await chain("b", tokens.caller);
    expect(run.steps.map((st) => [st.name, st.status])).toEqual([
      ["gateway-domain-exchange", 200],
      ["domain-grant", 200],
      ["oauth-token-exchange", 200],
    ]);
    // Each step sends the token the step before answered with (auth.metadata).
    const [s0, s1, s2] = run.steps;
    expect(s0.request!.body.subject_token).toBe(tokens.caller);
    expect(s1.request!.body.assertion).toBe(s0.json.access_token);
    expect(s2.request!.body.subject_token).toBe(s1.json.access_token);
    show("caller (realm mcp login)", tokens.caller);
    tokens.step0 = run.byName["gateway-domain-exchange"].json.access_token;
    const step0 = show("0 gateway-domain-exchange", tokens.step0);
    expect(step0).toMatchObject({ iss: keycloak.issuer, aud: realmB.issuer, azp: "mcp-gateway" });
    expect(step0.sub).toBe(claimsOf(tokens.caller).sub);
    tokens.step1 = run.byName["domain-grant"].json.access_token;
    const step1 = show("1 domain-grant", tokens.step1);
    // The grant's user is realm cluster-b's mcp (linked to realm mcp's), not realm mcp's.
    const [mcpB] = await get(`${B}/users?username=mcp&exact=true`);
    expect(step1).toMatchObject({ iss: realmB.issuer, sub: mcpB.id, preferred_username: "mcp" });
    expect(step1.sub).not.toBe(step0.sub);
    tokens.final = run.byName["oauth-token-exchange"].json.access_token;
    const final = show("2 oauth-token-exchange (final)", tokens.final);
    expect(final).toMatchObject({
      iss: realmB.issuer,
      aud: SERVER_B,
      azp: "mcp-gateway",
      sub: mcpB.id,
      preferred_username: "mcp",
    });
    expect([...final.resource_access[SERVER_B].roles].sort()).toEqual([...GUIDE_TOOLS].sort());
    // Realm cluster-b has no groups scope: cluster b binds the user, not a group.
    expect(final.groups).toBeUndefined();
  });

  it("b's AuthPolicy, evaluated by Authorino's libraries, admits namespaces_list and refuses a tool without a role", () => {
    const call = (tool: string) =>
      decide(applied.b, real, { callerJwt: tokens.caller, scopedJwt: tokens.final, tool, server: SERVER_B });
    expect(call("namespaces_list").verdict).toBe("allowed");
    expect(call("resources_scale").verdict).toBe("tool-access-check");
    // Without the chain's token the caller's own reaches the checks: its audience is never b's server.
    expect(
      decide(applied.b, real, { callerJwt: tokens.caller, tool: "namespaces_list", server: SERVER_B }).verdict,
    ).toBe("scoped-audience-check");
  });

  it("the grant's token (step 1) authenticates at cluster b, but b's policy refuses it: only step 2's is scoped to b's server", async () => {
    // The grant client has the full scope: step 1's aud is every client whose roles mcp holds in
    // realm cluster-b, never b's server alone, which the scoped-audience check wants.
    expect((await selfSubjectReview(clusterB, tokens.step1)).status).toBe(201);
    expect(claimsOf(tokens.step1).aud).not.toBe(SERVER_B);
    const call = { callerJwt: tokens.caller, scopedJwt: tokens.step1, tool: "namespaces_list", server: SERVER_B };
    expect(decide(applied.b, real, call).verdict).toBe("scoped-audience-check");
  });

  it("cluster b's API server takes the final token for <realm cluster-b issuer>#mcp, and b's server lists b's namespaces with it", async () => {
    const review = await selfSubjectReview(clusterB, tokens.final);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${realmB.issuer}#mcp`);
    expect(review.json.status.userInfo.groups).toEqual(["system:authenticated"]);
    const result = await callTool(mcpUrl(portB), "namespaces_list", tokens.final);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).toContain(ONLY_IN_B);
  });

  it("the realm-mcp tokens sent straight to cluster b are refused there, by the API server and through b's server", async () => {
    // The caller's token, and step 0's, whose audience is realm cluster-b's issuer but whose issuer is realm mcp.
    for (const t of [tokens.caller, tokens.step0]) expect((await selfSubjectReview(clusterB, t)).status).toBe(401);
    const result = await callTool(mcpUrl(portB), "namespaces_list", tokens.caller);
    expect(result.isError).toBe(true);
    expect(result.text).not.toContain(ONLY_IN_B);
  });

  it("a realm-mcp user realm cluster-b has no link for gets no token of b: the grant says User not found", async () => {
    const run = await chain("b", await login(UNLINKED.username, UNLINKED.password));
    expect(run.byName["gateway-domain-exchange"].status).toBe(200);
    expect(run.byName["domain-grant"]).toMatchObject({
      status: 400,
      json: { error: "invalid_grant", error_description: "User not found" },
    });
    expect(run.byName["oauth-token-exchange"].status).toBeUndefined();
    expect(run.byName["oauth-token-exchange"].request).toBeUndefined();
    expect(run.byName["oauth-token-exchange"].error).toContain("access_token");
    expect(run.metadata["oauth-token-exchange"]).toBeUndefined();
  });

  it("an assertion is good once: the grant refuses the same exchanged token sent again", async () => {
    const run = await chain("b", tokens.caller);
    expect(run.byName["domain-grant"].status).toBe(200);
    const again = await resend(run.byName["domain-grant"].request!, keycloak.ca);
    expect(again.status).toBe(400);
    expect(again.json).toMatchObject({ error: "invalid_grant", error_description: "Token reuse detected" });
  });

  it("the gateway's own cluster is unchanged: its policy exchanges in realm mcp and its server acts as <realm mcp issuer>#mcp", async () => {
    const run = await chain("a", tokens.caller);
    const scoped = run.byName["oauth-token-exchange"].json.access_token;
    expect(claimsOf(scoped)).toMatchObject({ iss: keycloak.issuer, aud: SERVER_A });
    expect((await selfSubjectReview(gatewayApi, scoped)).json.status.userInfo.username).toBe(`${keycloak.issuer}#mcp`);
    const result = await callTool(mcpUrl(port), "namespaces_list", scoped);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).not.toContain(ONLY_IN_B);
    // And realm mcp's token for a is worth nothing at b.
    expect((await selfSubjectReview(clusterB, scoped)).status).toBe(401);
  });

  it("a second up changes nothing (the two Gateway patches' positional diff excepted)", async () => {
    const updates = stepCounter("update");
    const result = await s.stack.up({ onEvent: updates.onEvent });
    expect(updates.counts).toEqual({ "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 2 });
    expect(Object.keys(result.summary.resourceChanges ?? {}).sort()).toEqual(["same", "update"]);
  });

  it("destroy leaves both clusters and both realms as they were, and no server running", async () => {
    const result = await s.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    for (const p of [ROUTE_B, GRANT_SECRET, POLICY("kubernetes-mcp-b-auth-policy"), BINDING]) {
      expect((await gatewayApi.kube.get(p)).status, p).toBe(404);
    }
    expect((await clusterB.kube.get(BINDING)).status).toBe(404);
    expect((await gatewayApi.kube.get(GATEWAY)).json.spec.listeners.map((l: { name: string }) => l.name)).toEqual([
      "http",
      "mcp",
    ]);
    // Realm cluster-b: none of the stack's objects; its own default clients stay.
    expect(await get(`${B}/identity-provider/instances`)).toEqual([]);
    expect(await get(`${B}/users?username=mcp&exact=true`)).toEqual([]);
    expect(await get(`${B}/clients?clientId=mcp-gateway`)).toEqual([]);
    expect(await get(`${B}/clients?clientId=${encodeURIComponent(SERVER_B)}`)).toEqual([]);
    expect((await get(`${B}/groups`)).map((g: { name: string }) => g.name)).not.toContain("engineering");
    // Realm mcp: the audience client and the sub mapper gone; the realm's own client and user stay.
    expect(await get(`${A}/clients?clientId=${encodeURIComponent(realmB.issuer)}`)).toEqual([]);
    const [gw] = await get(`${A}/clients?clientId=mcp-gateway`);
    expect((gw.protocolMappers ?? []).map((m: { name: string }) => m.name)).not.toContain("sub (mcp-gateway-stack)");
    expect(await get(`${A}/users?username=mcp&exact=true`)).toHaveLength(1);
    for (const p of [port, portB]) {
      expect(processesWith("kubernetes-mcp-server", `--port ${p} `), String(p)).toEqual([]);
      expect(portAnswers(p)).toBe(false);
    }
    expect((await s.stack.exportStack()).deployment.resources ?? []).toEqual([]);
  });
});
