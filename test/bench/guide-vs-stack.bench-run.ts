/**
 * `npm run bench`: the stack's lifecycle against the guide's steps run as a sequential script, on
 * the same test bed (loopback API server with OIDC, Keycloak with the guide-397bf8d realm, the real
 * kubernetes-mcp-server). Not part of the test suite: it prints figures and writes
 * .cache/bench/results.json; it checks only that every step it times succeeded.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { resolveMcpServerBinary } from "../../components/localMcpServer";
import { GUIDE_TOOLS } from "../../components/tools";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { REPO_ROOT, scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { guideManifests } from "../support/guide";

const TAG = "guide-397bf8d";
let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;
const seconds: Record<string, number> = {};

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  seconds[name] = Math.round((performance.now() - t0) / 10) / 100;
  return out;
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG });
});

afterAll(async () => {
  await tearDownStack(s); // also when a step failed
  apiServer?.stop();
  keycloak?.stop();
});

it("times pulumi up/no-op up/preview/destroy (oidc) against the guide's steps as a script", async () => {
  s = await scratchStack("dev", standIns().env);
  await useTestBed(s.stack, { apiServer, tag: TAG, port: freePort(), keycloak, useCase: "oidc" });
  expect((await timed("up", () => s.stack.up())).summary.result).toBe("succeeded");
  expect((await timed("noopUp", () => s.stack.up())).summary.result).toBe("succeeded");
  await timed("preview", () => s.stack.preview());
  expect((await timed("destroy", () => s.stack.destroy())).summary.result).toBe("succeeded");

  await timed("script", () => guideScript(freePort()));

  const ratios = {
    upVsScript: seconds.up / seconds.script,
    noopUpVsUp: seconds.noopUp / seconds.up,
    previewVsUp: seconds.preview / seconds.up,
  };
  const results = { seconds, ratios, targets: { upVsScript: 1.0, noopUpVsUp: 0.3, previewVsUp: 0.3 } };
  fs.mkdirSync(path.join(REPO_ROOT, ".cache/bench"), { recursive: true });
  fs.writeFileSync(path.join(REPO_ROOT, ".cache/bench/results.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(
    [
      `bench: pulumi up (oidc, from empty) ${seconds.up} s, no-op up ${seconds.noopUp} s, preview ${seconds.preview} s, destroy ${seconds.destroy} s`,
      `bench: the guide's steps as a sequential script ${seconds.script} s`,
      `bench: up/script ${ratios.upVsScript.toFixed(2)}x (target <= 1.0), no-op up/up ${ratios.noopUpVsUp.toFixed(2)}x, preview/up ${ratios.previewVsUp.toFixed(2)}x (targets <= 0.3)`,
    ].join("\n"),
  );
});

/**
 * The guide's steps, one after the other, as its kubectl and curl calls do them: start the server,
 * patch the listener, apply the route, Service, ServiceEntry, MCPServer, the token-exchange example,
 * the Keycloak client, 22 roles, the group, its mappings and membership, the AuthPolicy and binding.
 */
async function guideScript(port: number): Promise<void> {
  const kube = apiServer.kube;
  const apply = async (apiPath: string, obj: any) => {
    const res = await kube.request(
      "PATCH",
      `${apiPath}?fieldManager=guide-script&force=true`,
      obj,
      "application/apply-patch+yaml",
    );
    if (res.status >= 300) throw new Error(`${apiPath}: ${res.status} ${res.text}`);
  };
  const server = spawn(
    path.join(REPO_ROOT, resolveMcpServerBinary(REPO_ROOT)),
    [
      "--port",
      String(port),
      "--bind-address",
      "127.0.0.1",
      "--toolsets",
      "core,config,helm",
      "--kubeconfig",
      apiServer.kubeconfig,
    ],
    { stdio: "ignore" },
  );
  try {
    while (
      !(await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 100));
    const issuer = keycloak.issuer;
    const withIssuer = (o: unknown) =>
      JSON.parse(JSON.stringify(o).replaceAll("https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp", issuer));
    const gw = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
    await apply(gw, {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "mcp-gateway", namespace: "gateway-system" },
      spec: {
        listeners: [
          {
            name: "kubernetes-mcp",
            hostname: "host.containers.internal",
            port: 8080,
            protocol: "HTTP",
            allowedRoutes: { namespaces: { from: "All" } },
          },
        ],
      },
    });
    const m = guideManifests;
    await apply("/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp", m.HTTPRoute);
    await apply("/api/v1/namespaces/mcp-test/services/kubernetes-mcp-external", m.Service);
    await apply("/apis/networking.istio.io/v1beta1/namespaces/mcp-test/serviceentries/kubernetes-mcp", m.ServiceEntry);
    await apply("/apis/mcp.kagenti.com/v1alpha1/namespaces/mcp-test/mcpservers/kubernetes-mcp-server", m.MCPServer);

    const admin = await keycloak.admin();
    const ok = async (p: Promise<{ status: number; text: string }>) => {
      const r = await p;
      if (r.status >= 300) throw new Error(`${r.status} ${r.text}`);
      return r;
    };
    const realm = "/admin/realms/mcp";
    await ok(
      admin.request("POST", `${realm}/clients`, {
        clientId: "mcp-test/kubernetes-mcp",
        publicClient: true,
        standardFlowEnabled: false,
        fullScopeAllowed: false,
      }),
    );
    const [client] = (await admin.get(`${realm}/clients?clientId=${encodeURIComponent("mcp-test/kubernetes-mcp")}`))
      .json;
    for (const tool of GUIDE_TOOLS)
      await ok(admin.request("POST", `${realm}/clients/${client.id}/roles`, { name: tool }));
    await ok(admin.request("POST", `${realm}/groups`, { name: "engineering" }));
    const group = (await admin.get(`${realm}/groups?search=engineering&exact=true`)).json[0];
    const roles = (await admin.get(`${realm}/clients/${client.id}/roles`)).json;
    await ok(admin.request("POST", `${realm}/groups/${group.id}/role-mappings/clients/${client.id}`, roles));
    const [user] = (await admin.get(`${realm}/users?username=mcp&exact=true`)).json;
    await ok(admin.request("PUT", `${realm}/users/${user.id}/groups/${group.id}`, {}));

    await apply(
      "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-auth-policy",
      withIssuer(m.AuthPolicy),
    );
    await apply(
      `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${m.ClusterRoleBinding.metadata.name}`,
      withIssuer(m.ClusterRoleBinding),
    );
  } finally {
    server.kill();
  }
}
