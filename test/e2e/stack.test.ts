import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUIDE_TOOLS } from "../../components/tools";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { hostStateDir, persistedTexts, scratchStack, stepCounter, type Scratch } from "../../testbed/engine/engine";
import { NO_AUTH_PLAN, OIDC_ADDS } from "../../testbed/engine/plans";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { callTool, listTools } from "../../testbed/mcp";
import { freePort, portAnswers, processesWith } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { guideManifests, trimStrings } from "../support/guide";

// Both use cases on the real engine and the real command, kubernetes and keycloak plugins, against
// the test bed: a loopback API server with the Kind config's OIDC flags, Keycloak with the realm of
// the commit the guide was written at (guide-397bf8d: none of the stack's Keycloak objects yet),
// and the real kubernetes-mcp-server started and stopped by the stack.
const TAG = "guide-397bf8d";
const REALM = "/admin/realms/mcp";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
const ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp";
const SERVICE = "/api/v1/namespaces/mcp-test/services/kubernetes-mcp-external";
const ENTRY = "/apis/networking.istio.io/v1beta1/namespaces/mcp-test/serviceentries/kubernetes-mcp";
const MCP_SERVER = "/apis/mcp.kagenti.com/v1alpha1/namespaces/mcp-test/mcpservers/kubernetes-mcp-server";
const AUTH_POLICY = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-auth-policy";
const BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-cluster-admin";
const TOKEN_EXCHANGE_SECRET = "/api/v1/namespaces/kuadrant-system/secrets/token-exchange";

let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;
let port: number;
let bed: ReturnType<typeof standIns>;
let oidcUpText = "";

const listenerNames = async () =>
  (await apiServer.kube.get(GATEWAY)).json.spec.listeners.map((l: { name: string }) => l.name);
const status = async (p: string) => (await apiServer.kube.get(p)).status;
const serverStateDir = () => hostStateDir(s);
const mcpUrl = () => `http://127.0.0.1:${port}/mcp`;

async function kcClient(admin: Awaited<ReturnType<Keycloak["admin"]>>, clientId: string) {
  return (await admin.get(`${REALM}/clients?clientId=${encodeURIComponent(clientId)}`)).json as any[];
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG });
  bed = standIns();
  s = await scratchStack("dev", bed.env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port, keycloak });
});

afterAll(async () => {
  await tearDownStack(s);
  apiServer?.stop();
  keycloak?.stop();
});

describe("use case 1, then 2, then 1 again, then destroy, on the real engine", () => {
  it("starts from the Gateway with its own two listeners and no OIDC objects", async () => {
    expect(await listenerNames()).toEqual(["http", "mcp"]);
    expect(await kcClient(await keycloak.admin(), "mcp-test/kubernetes-mcp")).toEqual([]);
  });

  it("up (no-auth) creates exactly use case 1's resources, and the MCP server answers after up returns", async () => {
    const creates = stepCounter("create");
    const result = await s.stack.up({ onEvent: creates.onEvent });
    expect(result.summary.result).toBe("succeeded");
    expect(creates.counts).toEqual(NO_AUTH_PLAN);
    expect(await listenerNames()).toEqual(["http", "mcp", "kubernetes-mcp"]);
    expect((await apiServer.kube.get(ROUTE)).json.spec.rules[0].backendRefs[0]).toMatchObject({
      name: "kubernetes-mcp-external",
      port,
    });
    expect((await apiServer.kube.get(SERVICE)).json.spec).toMatchObject({ type: "ExternalName" });
    expect(await status(ENTRY)).toBe(200);
    expect((await apiServer.kube.get(MCP_SERVER)).json.spec).toMatchObject({
      toolPrefix: "kube_",
      targetRef: { kind: "HTTPRoute", name: "kubernetes-mcp" },
    });
    // The server outlived the command plugin that started it, and serves the guide's tools.
    // All the guide's tools but configuration_contexts_list, which the binary offers only for a
    // kubeconfig with more than one context (the test bed's has one).
    // configuration_view is off without auth: it would hand any caller the kubeconfig's token.
    const tools = await listTools(mcpUrl());
    expect(tools).toEqual(
      expect.arrayContaining(
        GUIDE_TOOLS.filter((t) => t !== "configuration_contexts_list" && t !== "configuration_view"),
      ),
    );
    expect(tools).not.toContain("configuration_view");
    const viewed = await callTool(mcpUrl(), "configuration_view");
    expect(viewed.isError).toBe(true);
    expect(viewed.text).not.toContain(apiServer.token);
    expect(processesWith("kubernetes-mcp-server", `--port ${port} `)).toHaveLength(1);
  });

  it("listens on the address it was given only: another address of this machine gets no answer", async () => {
    const other = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    expect(other, "this machine has a non-loopback IPv4 address").toBeDefined();
    const answered = await fetch(`http://${other}:${port}/healthz`).then(
      () => true,
      () => false,
    );
    expect(answered).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).ok).toBe(true);
  });

  it("a second up changes nothing (the Gateway patch's positional diff excepted) and keeps the same server", async () => {
    const pidBefore = processesWith("kubernetes-mcp-server", `--port ${port} `);
    const rvBefore = (await apiServer.kube.get(GATEWAY)).json.metadata.resourceVersion;
    const updates = stepCounter("update");
    const result = await s.stack.up({ onEvent: updates.onEvent });
    // pulumi-kubernetes 4.25 diffs a Patch of a CRD's map list by position: documented in the README.
    expect(updates.counts).toEqual({ "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1 });
    expect(result.summary.resourceChanges).toEqual({ same: 12, update: 1 });
    expect((await apiServer.kube.get(GATEWAY)).json.metadata.resourceVersion).toBe(rvBefore);
    expect(processesWith("kubernetes-mcp-server", `--port ${port} `)).toEqual(pidBefore);
    expect(await listTools(mcpUrl())).toContain("namespaces_list");
  });

  it("a port change updates the Service, ServiceEntry and route in place and restarts the server on the new port", async () => {
    const oldPort = port;
    const newPort = freePort();
    await s.stack.setConfig("mcpServer.port", { value: String(newPort) }, true);
    const updates = stepCounter("update");
    const replaces = stepCounter("replace");
    const preview = await s.stack.preview({
      diff: true,
      onEvent: (e) => [updates, replaces].forEach((c) => c.onEvent(e)),
    });
    expect(updates.counts).toEqual({
      "kubernetes:core/v1:Service": 1,
      "kubernetes:networking.istio.io/v1beta1:ServiceEntry": 1,
      "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
      "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1,
    });
    expect(replaces.counts).toEqual({ "command:local:Command": 1 });
    expect(preview.stdout).toContain(`${oldPort} => ${newPort}`);
    await s.stack.up();
    port = newPort;
    expect((await apiServer.kube.get(SERVICE)).json.spec.ports[0].port).toBe(newPort);
    expect(await listTools(mcpUrl())).toContain("namespaces_list");
    expect(portAnswers(oldPort)).toBe(false);
    expect(processesWith("kubernetes-mcp-server", s.dir)).toHaveLength(1);
  });

  it("switching to oidc adds exactly use case 2's resources", async () => {
    await s.stack.setConfig("useCase", { value: "oidc" });
    const creates = stepCounter("create");
    const others = { update: stepCounter("update"), delete: stepCounter("delete"), replace: stepCounter("replace") };
    const events: unknown[] = [];
    const result = await s.stack.up({
      onEvent: (e) => {
        events.push(e);
        [creates, ...Object.values(others)].forEach((c) => c.onEvent(e));
      },
    });
    oidcUpText = result.stdout + result.stderr + JSON.stringify(events);
    expect(result.summary.result).toBe("succeeded");
    expect(creates.counts).toEqual(OIDC_ADDS);
    expect(others.delete.counts).toEqual({});
    // The MCP server restarts with a kubeconfig without credentials: in oidc every call brings a token.
    expect(others.replace.counts).toEqual({ "command:local:Command": 1 });
    expect(bed.calls()).toEqual([
      "make tools KIND_CLUSTER_NAME=mcp-gateway",
      "make oauth-token-exchange-example-setup KIND_CLUSTER_NAME=mcp-gateway",
    ]);
    expect(await status(TOKEN_EXCHANGE_SECRET)).toBe(200);
  });

  it("Keycloak holds the guide's client, one role per tool, the group with all of them and mcp in it", async () => {
    const admin = await keycloak.admin();
    const [client] = await kcClient(admin, "mcp-test/kubernetes-mcp");
    expect(client).toMatchObject({
      publicClient: true,
      standardFlowEnabled: false,
      fullScopeAllowed: false,
      description: "Managed by Pulumi stack mcp-gateway-stack/dev",
    });
    const roles = (await admin.get(`${REALM}/clients/${client.id}/roles`)).json.map((r: { name: string }) => r.name);
    expect(roles.sort()).toEqual([...GUIDE_TOOLS].sort());
    const group = (await admin.get(`${REALM}/groups?search=engineering&exact=true`)).json.find(
      (g: { name: string }) => g.name === "engineering",
    );
    const mapped = (await admin.get(`${REALM}/groups/${group.id}/role-mappings/clients/${client.id}`)).json;
    expect(mapped.map((r: { name: string }) => r.name).sort()).toEqual([...GUIDE_TOOLS].sort());
    const [user] = (await admin.get(`${REALM}/users?username=mcp&exact=true`)).json;
    const groups = (await admin.get(`${REALM}/users/${user.id}/groups`)).json.map((g: { name: string }) => g.name);
    expect(groups).toContain("engineering");
  });

  it("the API server holds the guide's AuthPolicy and the ClusterRoleBinding of the OIDC user", async () => {
    const policy = (await apiServer.kube.get(AUTH_POLICY)).json;
    const guide = JSON.parse(
      JSON.stringify(trimStrings(guideManifests.AuthPolicy.spec)).replaceAll(
        "https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp",
        keycloak.issuer,
      ),
    );
    // The API server adds its defaults (metrics: false, priority: 0); every field the guide sets is there.
    expect(trimStrings(policy.spec)).toMatchObject(guide);
    const binding = (await apiServer.kube.get(BINDING)).json;
    expect(binding.roleRef).toMatchObject({ kind: "ClusterRole", name: "cluster-admin" });
    expect(binding.subjects).toEqual([
      { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${keycloak.issuer}#mcp` },
    ]);
  });

  it("keeps the kubeconfig and the admin password out of state files, engine events and logs", async () => {
    const texts: Record<string, string> = {
      ...persistedTexts(s),
      "up output and engine events": oidcUpText,
      "MCP server log": fs.readFileSync(path.join(serverStateDir(), "server.log"), "utf8"),
    };
    expect(texts["pulumi stack export"]).toContain("ciphertext");
    // The server's own copy of the kubeconfig (it needs a file) is private to the user.
    expect(fs.statSync(path.join(serverStateDir(), "kubeconfig")).mode & 0o777).toBe(0o600);
    for (const [where, text] of Object.entries(texts)) {
      expect(text, where).not.toContain(apiServer.token);
      expect(text, where).not.toContain(keycloak.adminPassword);
    }
  });

  it("a second up in oidc changes nothing (the Gateway patch's positional diff excepted)", async () => {
    // The preflight finds the stack's own client (its description says so) and lets the run go on.
    const updates = stepCounter("update");
    const result = await s.stack.up({ onEvent: updates.onEvent });
    expect(updates.counts).toEqual({ "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1 });
    expect(Object.keys(result.summary.resourceChanges ?? {}).sort()).toEqual(["same", "update"]);
    expect(result.summary.resourceChanges?.update).toBe(1);
  });

  it("switching back to no-auth removes exactly what oidc added, in Keycloak too", async () => {
    await s.stack.setConfig("useCase", { value: "no-auth" });
    const deletes = stepCounter("delete");
    const result = await s.stack.up({ onEvent: deletes.onEvent });
    expect(result.summary.result).toBe("succeeded");
    expect(deletes.counts).toEqual(OIDC_ADDS);
    expect(await status(AUTH_POLICY)).toBe(404);
    expect(await status(BINDING)).toBe(404);
    const admin = await keycloak.admin();
    expect(await kcClient(admin, "mcp-test/kubernetes-mcp")).toEqual([]);
    const groups = (await admin.get(`${REALM}/groups?search=engineering&exact=true`)).json;
    expect(groups.filter((g: { name: string }) => g.name === "engineering")).toEqual([]);
    // The realm's own objects stay: the gateway's client and the user.
    expect(await kcClient(admin, "mcp-gateway")).toHaveLength(1);
    expect((await admin.get(`${REALM}/users?username=mcp&exact=true`)).json).toHaveLength(1);
    // What the upstream make target applied stays: it has no teardown target (README: "What stays").
    expect(await status(TOKEN_EXCHANGE_SECRET)).toBe(200);
    expect(await listTools(mcpUrl())).toContain("namespaces_list");
  });

  it("destroy leaves nothing of the stack: objects gone, Gateway listeners intact, no server process, port free", async () => {
    const result = await s.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(await listenerNames()).toEqual(["http", "mcp"]);
    for (const p of [ROUTE, SERVICE, ENTRY, MCP_SERVER, AUTH_POLICY, BINDING]) expect(await status(p), p).toBe(404);
    expect(processesWith("kubernetes-mcp-server", `--port ${port} `)).toEqual([]);
    expect(portAnswers(port)).toBe(false);
    const state = await s.stack.exportStack();
    expect(state.deployment.resources ?? []).toEqual([]);
  });
});
