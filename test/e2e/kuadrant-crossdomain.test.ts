import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GUIDE_TOOLS } from "../../components/tools";
import { parseStackConfig } from "../../stacks/config";
import { selfSubjectReview, startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { authorinoEvaluators } from "../../testbed/authz/authorino";
import { runMetadata, type MetadataStep } from "../../testbed/authz/metadata";
import { REPO_ROOT, scratchStack, stepCounter, type Scratch } from "../../testbed/engine/engine";
import {
  CROSS_DOMAIN_ONCE,
  CROSS_DOMAIN_PER_CLUSTER,
  NO_AUTH_PLAN,
  OIDC_ADDS,
  sumPlans,
} from "../../testbed/engine/plans";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { startKuadrantGateway } from "../../testbed/gateway/gateway";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, printClaims, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createRealm, type Realm } from "../../testbed/keycloak/realms";
import { callTool } from "../../testbed/mcp";
import { freePort, portAnswers, processesWith } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { decide, type ChainRules } from "../support/authChain";

// Use case 3 with gateway.release kuadrant-v0.9.0 on the real engine: crossdomain.test.ts at the
// gateway tag kuadrant-v0.9.0. Keycloak with v0.9.0's realm import (which already holds realm mcp's
// server client, `tool:` roles and group: adopted, never written), the gateway's API server with
// v0.9.0's CRDs and Kind OIDC flags, cluster b trusting realm cluster-b with the client id of b's
// registration. One `up`, Kuadrant's own controller taking both registrations, the chain of b's
// applied AuthPolicy sent to Keycloak as Authorino would, the final token at b's API server and
// kubernetes-mcp-server, then destroy, which must leave both clusters and both realms as they were.
const TAG = "kuadrant-v0.9.0";
// v0.9.0 names a server `<namespace>/<registration>`: the audience, client id and x-mcp-servername.
const SERVER_A = "mcp-test/kubernetes-mcp-server";
const SERVER_B = "mcp-test/kubernetes-mcp-server-b";
const HOST_B = "kube-b.mcp.test";
const ONLY_IN_B = "only-in-cluster-b";
const KAGENTI_REGISTRATION = "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer";
const REGISTRATION = "kubernetes:mcp.kuadrant.io/v1:MCPServerRegistration";
const NS = "mcp-test";
const REGISTRATIONS = `/apis/mcp.kuadrant.io/v1/namespaces/${NS}/mcpserverregistrations`;
const POLICY = (name: string) => `/apis/kuadrant.io/v1/namespaces/${NS}/authpolicies/${name}`;
const GRANT_SECRET = "/api/v1/namespaces/kuadrant-system/secrets/kubernetes-mcp-b-grant";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
/** The kinds of object the stack makes on a cluster, listed to compare before and after. */
const LISTS = [
  "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
  `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes`,
  `/api/v1/namespaces/${NS}/services`,
  `/apis/networking.istio.io/v1beta1/namespaces/${NS}/serviceentries`,
  `/apis/kuadrant.io/v1/namespaces/${NS}/authpolicies`,
];
/** The realm import's objects the stack adopts in realm mcp: v0.9.0's gateway-cluster server. */
const ADOPTED: Record<string, number> = {
  "keycloak:openid/client:Client": -1,
  "keycloak:index/role:Role": -GUIDE_TOOLS.length,
  "keycloak:index/group:Group": -1,
  "keycloak:index/groupMemberships:GroupMemberships": -1,
  "keycloak:index/groupRoles:GroupRoles": -1,
};

let keycloak: Keycloak;
let realmB: Realm;
let gatewayApi: ApiServer;
let clusterB: ApiServer;
let s: Scratch;
let port: number;
let portB: number;
let gateway: Awaited<ReturnType<typeof startKuadrantGateway>> | undefined;
let upCreates: Record<string, number>;
let caller = "";
let final = "";
const before: Record<string, unknown> = {};
/** b's AuthPolicy's rules as the gateway's API server holds them. */
let appliedB: ChainRules & { metadata: Record<string, MetadataStep> };

const mcpUrl = (p: number) => `http://127.0.0.1:${p}/mcp`;
const names = (items: { metadata: { name: string } }[]) => items.map((i) => i.metadata.name).sort();
const real = authorinoEvaluators({ issuerUrl: () => keycloak.issuer, ca: () => keycloak.ca });

/** What the stack could change on a cluster: the names of the objects of each kind it makes. */
async function clusterState(api: ApiServer): Promise<Record<string, string[]>> {
  const state: Record<string, string[]> = {};
  for (const list of LISTS) {
    const res = await api.kube.get(list);
    expect(res.status, `${list}: ${res.text}`).toBe(200);
    state[list] = names(res.json.items);
  }
  return state;
}

/**
 * What the stack could change in a realm: its clients (and their mappers and roles), users and
 * their links, identity providers, groups with their role mappings. A fresh admin token each time:
 * the master realm's tokens live a minute.
 */
async function realmState(realm: string): Promise<Record<string, unknown>> {
  const admin = await keycloak.admin();
  const get = async (p: string) => (await admin.get(`/admin/realms/${realm}${p}`)).json;
  const clients = await Promise.all(
    (await get("/clients")).map(async (c: any) => ({
      clientId: c.clientId,
      id: c.id,
      mappers: (c.protocolMappers ?? []).map((m: { name: string }) => m.name).sort(),
      roles: (await get(`/clients/${c.id}/roles`)).map((r: { name: string }) => r.name).sort(),
    })),
  );
  const users = await Promise.all(
    (await get("/users?max=1000")).map(async (u: any) => ({
      username: u.username,
      id: u.id,
      links: await get(`/users/${u.id}/federated-identity`),
    })),
  );
  const groups = await Promise.all(
    (await get("/groups")).map(async (g: any) => ({
      name: g.name,
      id: g.id,
      mappings: await get(`/groups/${g.id}/role-mappings`),
    })),
  );
  const idps = (await get("/identity-provider/instances")).map((i: { alias: string }) => i.alias);
  const byKey = <T>(xs: T[], key: keyof T) => [...xs].sort((x, y) => String(x[key]).localeCompare(String(y[key])));
  return { clients: byKey(clients, "clientId"), users: byKey(users, "username"), groups: byKey(groups, "name"), idps };
}

/** The Ready condition of a registration, once the controller wrote one. */
async function ready(name: string): Promise<{ status: string; message: string } | undefined> {
  const conditions = (await gatewayApi.kube.get(`${REGISTRATIONS}/${name}`)).json.status?.conditions ?? [];
  const c = conditions.find((k: { type: string }) => k.type === "Ready");
  return c && { status: c.status, message: c.message };
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  realmB = await createRealm(keycloak, "cluster-b");
  gatewayApi = startApiServer({ keycloak, tag: TAG }, TAG);
  clusterB = startApiServer({ keycloak, tag: TAG, issuer: realmB.issuer, clientId: SERVER_B });
  const ns = await clusterB.kube.request("POST", "/api/v1/namespaces", { metadata: { name: ONLY_IN_B } });
  expect(ns.status, ns.text).toBe(201);
  Object.assign(before, {
    gatewayCluster: await clusterState(gatewayApi),
    listeners: (await gatewayApi.kube.get(GATEWAY)).json.spec.listeners,
    clusterB: await clusterState(clusterB),
    realmMcp: await realmState("mcp"),
    realmB: await realmState(realmB.name),
  });
  s = await scratchStack("dev", standIns().env);
  [port, portB] = [freePort(), freePort()];
  await useTestBed(s.stack, { apiServer: gatewayApi, tag: TAG, port, keycloak, useCase: "cross-domain" });
  await s.stack.setAllConfig(
    {
      "gateway.release": { value: TAG },
      "domains[0].name": { value: "b" },
      "domains[0].realm": { value: realmB.name },
      "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
      "domains[0].port": { value: String(portB) },
      "domains[0].host": { value: HOST_B },
    },
    true,
  );
  const creates = stepCounter("create");
  const up = await s.stack.up({ onEvent: creates.onEvent, policyPacks: [path.join(REPO_ROOT, "policy")] });
  expect(up.summary.result).toBe("succeeded");
  expect(up.stdout).not.toMatch(/can't run policy|mandatory|advisory/);
  upCreates = creates.counts;
  appliedB = (await gatewayApi.kube.get(POLICY("kubernetes-mcp-b-auth-policy"))).json.spec.rules;
  const defaults = parseStackConfig({ values: {} }).gateway;
  gateway = await startKuadrantGateway(gatewayApi, {
    routes: [
      { namespace: NS, name: "kubernetes-mcp" },
      { namespace: NS, name: "kubernetes-mcp-b" },
    ],
    gateway: { namespace: defaults.namespace, name: defaults.name },
    publicHost: defaults.publicHost,
  });
  // Test bed only: a password login at the gateway's client instead of a browser.
  caller = await (await passwordLogin(keycloak))("mcp", "mcp");
});

afterAll(async () => {
  // The controller removes its finalizer from the registrations: destroy while it still runs.
  await tearDownStack(s);
  await gateway?.stop();
  clusterB?.stop();
  gatewayApi?.stop();
  keycloak?.stop();
});

describe("use case 3 with gateway.release kuadrant-v0.9.0 on the real engine", () => {
  it("up creates use case 3's plan with v0.9.0's registrations, adopting realm mcp's server objects", () => {
    const kuadrant = (plan: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(plan)
          .filter(([, n]) => n !== 0)
          .map(([type, n]) => [type === KAGENTI_REGISTRATION ? REGISTRATION : type, n]),
      );
    expect(upCreates).toEqual(
      kuadrant(sumPlans(NO_AUTH_PLAN, OIDC_ADDS, ADOPTED, CROSS_DOMAIN_ONCE, CROSS_DOMAIN_PER_CLUSTER)),
    );
  });

  it("Kuadrant's controller takes both registrations: Ready, broker entries named <namespace>/<registration> with their prefixes", async () => {
    const deadline = Date.now() + 60_000;
    const both = async () =>
      (await ready("kubernetes-mcp-server"))?.status === "True" &&
      (await ready("kubernetes-mcp-server-b"))?.status === "True";
    while (Date.now() < deadline && !(await both())) await new Promise((r) => setTimeout(r, 500));
    for (const name of ["kubernetes-mcp-server", "kubernetes-mcp-server-b"]) {
      expect(await ready(name), gateway!.logs()).toEqual({ status: "True", message: "config written successfully" });
    }
    const servers = parse(await gateway!.config()).servers as Record<string, unknown>[];
    expect(servers.map((e) => [e.name, e.prefix, e.hostname]).sort()).toEqual([
      [SERVER_A, "kube_", "host.containers.internal"],
      [SERVER_B, "kube_b_", HOST_B],
    ]);
  });

  it("realm mcp's adopted objects are untouched, b's are created in realm cluster-b with `tool:` roles", async () => {
    const mcp = (await realmState("mcp")) as any;
    const was = before.realmMcp as any;
    const clientOf = (state: any, id: string) => state.clients.find((c: { clientId: string }) => c.clientId === id);
    expect(clientOf(mcp, SERVER_A)).toEqual(clientOf(was, SERVER_A));
    expect(clientOf(mcp, SERVER_A).roles).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
    // Added there: the audience for realm cluster-b, with its role `chain`.
    expect(clientOf(mcp, realmB.issuer)).toMatchObject({ roles: ["chain"] });
    const b = (await realmState(realmB.name)) as any;
    expect(clientOf(b, SERVER_B).roles).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
    expect(b.idps).toEqual(["gateway"]);
    const mcpA = mcp.users.find((u: { username: string }) => u.username === "mcp");
    expect(b.users.find((u: { username: string }) => u.username === "mcp").links).toEqual([
      { identityProvider: "gateway", userId: mcpA.id, userName: "mcp" },
    ]);
  });

  it("the three steps of b's applied AuthPolicy turn mcp's realm-mcp token into realm cluster-b's for b's registration", async () => {
    const run = await runMetadata(appliedB.metadata, {
      headers: { authorization: `Bearer ${caller}`, "x-mcp-servername": SERVER_B },
      identity: claimsOf(caller),
      ca: keycloak.ca,
      apiServer: gatewayApi,
    });
    expect(run.steps.map((st) => [st.name, st.status])).toEqual([
      ["gateway-domain-exchange", 200],
      ["domain-grant", 200],
      ["oauth-token-exchange", 200],
    ]);
    const [s0, s1, s2] = run.steps;
    expect(s0.request!.body).toMatchObject({ subject_token: caller, audience: realmB.issuer });
    expect(s1.request!.body.assertion).toBe(s0.json.access_token);
    expect(s2.request!.body).toMatchObject({ subject_token: s1.json.access_token, audience: SERVER_B });
    printClaims("kuadrant-crossdomain", "caller (realm mcp login)", caller);
    const step0 = printClaims("kuadrant-crossdomain", "0 gateway-domain-exchange", s0.json.access_token);
    expect(step0).toMatchObject({ iss: keycloak.issuer, aud: realmB.issuer, azp: "mcp-gateway" });
    final = s2.json.access_token;
    const claims = printClaims("kuadrant-crossdomain", "2 oauth-token-exchange (final)", final);
    expect(claims).toMatchObject({ iss: realmB.issuer, aud: SERVER_B, azp: "mcp-gateway", preferred_username: "mcp" });
    expect([...claims.resource_access[SERVER_B].roles].sort()).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
    // Authorino's own libraries on the applied rules: the `tool:` check admits a granted tool only.
    const call = (tool: string, scopedJwt?: string) =>
      decide(appliedB, real, { callerJwt: caller, scopedJwt, tool, server: SERVER_B }).verdict;
    expect(call("namespaces_list", final)).toBe("allowed");
    expect(call("resources_scale", final)).toBe("tool-access-check");
    expect(call("namespaces_list")).toBe("scoped-audience-check");
  });

  it("cluster b's API server takes the final token for <realm cluster-b issuer>#mcp, and b's server lists b's namespaces with it", async () => {
    const review = await selfSubjectReview(clusterB, final);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${realmB.issuer}#mcp`);
    const result = await callTool(mcpUrl(portB), "namespaces_list", final);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).toContain(ONLY_IN_B);
    // Realm mcp's token straight at b is refused.
    expect((await selfSubjectReview(clusterB, caller)).status).toBe(401);
  });

  it("destroy leaves both clusters and both realms as they were, and no server running", async () => {
    const result = await s.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    for (const p of [
      `${REGISTRATIONS}/kubernetes-mcp-server`,
      `${REGISTRATIONS}/kubernetes-mcp-server-b`,
      GRANT_SECRET,
    ]) {
      expect((await gatewayApi.kube.get(p)).status, p).toBe(404);
    }
    expect(await clusterState(gatewayApi)).toEqual(before.gatewayCluster);
    expect((await gatewayApi.kube.get(GATEWAY)).json.spec.listeners).toEqual(before.listeners);
    expect(await clusterState(clusterB)).toEqual(before.clusterB);
    expect(await realmState(realmB.name)).toEqual(before.realmB);
    expect(await realmState("mcp")).toEqual(before.realmMcp);
    for (const p of [port, portB]) {
      expect(processesWith("kubernetes-mcp-server", `--port ${p} `), String(p)).toEqual([]);
      expect(portAnswers(p)).toBe(false);
    }
    expect((await s.stack.exportStack()).deployment.resources ?? []).toEqual([]);
  });
});
