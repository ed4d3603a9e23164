import type { EngineEvent, UpResult } from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, untilAccepted, type ApiServer } from "../../testbed/apiserver/apiServer";
import { exchangedUserToken } from "../../testbed/authz/metadata";
import { hostStateDir, scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import type { Api } from "../../testbed/https";
import { passwordLogin, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { callTool } from "../../testbed/mcp";
import { freePort, portAnswers, processesWith } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { SERVER } from "../support/authChain";

// The fault suite: a use case 2 stack that is up on the test bed, each fault made out of band as
// it happens on a user's machine, then the one command the README gives for it, with the exact
// change counts, and a tool call through the stack's kubernetes-mcp-server with the user's
// exchanged token. Each row is timed; the README's fault table comes from this file's output.
const TAG = "guide-397bf8d";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
const ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp";
const BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-cluster-admin";
const REALM = "/admin/realms/mcp";

let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;
let port: number;
let admin: Api;
let login: (username: string, password: string) => Promise<string>;
const rows: string[] = [];

const mcpUrl = () => `http://127.0.0.1:${port}/mcp`;
const servers = () => processesWith("kubernetes-mcp-server", `--port ${port} `);

const serverToken = () => exchangedUserToken(keycloak, apiServer, login);

/** The MCP call works: namespaces_list as user mcp lists the stack's namespace. */
async function expectToolCallWorks() {
  const token = await serverToken();
  await untilAccepted(apiServer, token);
  const result = await callTool(mcpUrl(), "namespaces_list", token);
  expect(result.isError, result.text).toBe(false);
  expect(result.text).toContain("mcp-test");
}

/** Runs the README's command for a fault and records the row (fault, command, counts, seconds). */
async function converge(fault: string, refresh: boolean, onEvent?: (e: EngineEvent) => void): Promise<UpResult> {
  const t0 = Date.now();
  const result = await s.stack.up({ refresh, onEvent });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  expect(result.summary.result).toBe("succeeded");
  const counts = Object.entries(result.summary.resourceChanges ?? {})
    .filter(([op]) => op !== "same")
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  rows.push(`| ${fault} | \`pulumi up${refresh ? " --refresh" : ""}\` | ${counts} | ${seconds} |`);
  return result;
}

/** The steps other than `same`, from an up's summary (the Gateway patch's update is the known gap). */
const changes = (r: UpResult) =>
  Object.fromEntries(Object.entries(r.summary.resourceChanges ?? {}).filter(([op]) => op !== "same"));

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG });
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port, keycloak, useCase: "oidc" });
  expect((await s.stack.up()).summary.result).toBe("succeeded");
  admin = await keycloak.admin();
  login = await passwordLogin(keycloak);
  await expectToolCallWorks();
});

afterAll(async () => {
  await tearDownStack(s);
  apiServer?.stop();
  keycloak?.stop();
  if (rows.length > 0)
    console.log(["| fault | command | changes | seconds |", "|---|---|---|---|", ...rows].join("\n"));
});

describe("faults made out of band converge in one up", () => {
  it("the MCP server process killed: preview shows its replacement and why, up starts it again", async () => {
    const [pid] = fs
      .readFileSync(path.join(hostStateDir(s), "server.pid"), "utf8")
      .trim()
      .split("\n");
    process.kill(Number(pid), "SIGKILL");
    while (portAnswers(port)) await new Promise((r) => setTimeout(r, 100));
    const preview = await s.stack.preview();
    expect(preview.changeSummary.replace).toBe(1);
    expect(preview.stdout + preview.stderr).toContain(
      `kubernetes-mcp-server (pid ${pid}, port ${port}) is no longer running: this update starts it again`,
    );
    const up = await converge("the MCP server process killed", false);
    expect(changes(up)).toEqual({ replace: 1, update: 1 });
    expect(servers()).toHaveLength(1);
    await expectToolCallWorks();
    // Started again, it is an ordinary server: the next up leaves it alone.
    expect(changes(await s.stack.up())).toEqual({ update: 1 });
  });

  it("the HTTPRoute deleted: up --refresh creates it again", async () => {
    expect((await apiServer.kube.request("DELETE", ROUTE)).status).toBe(200);
    const up = await converge("the HTTPRoute deleted", true);
    expect(changes(up)).toEqual({ create: 1, update: 1 });
    expect((await apiServer.kube.get(ROUTE)).status).toBe(200);
    await expectToolCallWorks();
  });

  it("the listener removed from the Gateway: up --refresh patches it back, the Gateway's own listeners kept", async () => {
    const gateway = (await apiServer.kube.get(GATEWAY)).json;
    const index = gateway.spec.listeners.findIndex((l: { name: string }) => l.name === "kubernetes-mcp");
    expect(index).toBeGreaterThan(-1);
    const removed = await apiServer.kube.request(
      "PATCH",
      GATEWAY,
      JSON.stringify([{ op: "remove", path: `/spec/listeners/${index}` }]),
      "application/json-patch+json",
    );
    expect(removed.status, removed.text).toBe(200);
    const up = await converge("the listener removed from the Gateway", true);
    expect(changes(up)).toEqual({ update: 1 });
    const listeners = (await apiServer.kube.get(GATEWAY)).json.spec.listeners.map((l: { name: string }) => l.name);
    expect(listeners.sort()).toEqual(["http", "kubernetes-mcp", "mcp"]);
    await expectToolCallWorks();
  });

  it("a Keycloak role and the group membership deleted: up --refresh makes both again", async () => {
    const [client] = (await admin.get(`${REALM}/clients?clientId=${encodeURIComponent(SERVER)}`)).json;
    expect((await admin.request("DELETE", `${REALM}/clients/${client.id}/roles/namespaces_list`)).status).toBe(204);
    const [user] = (await admin.get(`${REALM}/users?username=mcp&exact=true`)).json;
    const [group] = (await admin.get(`${REALM}/groups?search=engineering&exact=true`)).json;
    expect((await admin.request("DELETE", `${REALM}/users/${user.id}/groups/${group.id}`)).status).toBe(204);
    const up = await converge("a Keycloak role and the group membership deleted", true);
    // The role made again; the group's role mapping and the membership put back (and the Gateway patch).
    expect(changes(up)).toEqual({ create: 1, update: 3 });
    expect((await admin.get(`${REALM}/clients/${client.id}/roles/namespaces_list`)).status).toBe(200);
    const groups = (await admin.get(`${REALM}/users/${user.id}/groups`)).json.map((g: { name: string }) => g.name);
    expect(groups).toContain("engineering");
    // What the AuthPolicy checks: the exchanged token carries the tool's role again.
    const claims = JSON.parse(Buffer.from((await serverToken()).split(".")[1], "base64url").toString("utf8"));
    expect(claims.resource_access[SERVER].roles).toContain("namespaces_list");
    await expectToolCallWorks();
  });

  it("the ClusterRoleBinding deleted: up --refresh creates it again", async () => {
    expect((await apiServer.kube.request("DELETE", BINDING)).status).toBe(200);
    const refused = await callTool(mcpUrl(), "namespaces_list", await serverToken());
    expect(refused.isError).toBe(true);
    const up = await converge("the ClusterRoleBinding deleted", true);
    expect(changes(up)).toEqual({ create: 1, update: 1 });
    await expectToolCallWorks();
  });

  it("the API server restarted: up changes nothing, and the server's calls work again", async () => {
    apiServer.restart();
    const up = await converge("the API server restarted", false);
    expect(changes(up)).toEqual({ update: 1 });
    expect(servers()).toHaveLength(1);
    await expectToolCallWorks();
  });

  it("Keycloak restarted: up changes nothing, and tokens and calls work again", async () => {
    keycloak.restart();
    admin = await keycloak.admin();
    const up = await converge("Keycloak restarted", false);
    expect(changes(up)).toEqual({ update: 1 });
    await expectToolCallWorks();
  });

  it("nothing left to converge: a second up --refresh changes nothing but the known Gateway patch", async () => {
    const up = await converge("(none: a second run)", true);
    expect(changes(up)).toEqual({ update: 1 });
    expect(servers()).toHaveLength(1);
  });
});
