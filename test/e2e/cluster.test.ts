import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, scratchStack, stepCounter, type Scratch } from "./engine";

// The stack against a real Kubernetes API server (kube-apiserver + etcd built by
// testbed/apiserver/build.sh; no kubelet): the Gateway the gateway's make targets leave, with two
// listeners of its own, then `pulumi up`, a second `up`, a port change and `destroy`.
const MCP_SERVER_CRD = "mcpservers.mcp.kagenti.com";
const MCP_SERVER_URN =
  "urn:pulumi:dev::mcp-gateway-stack::mcp-gateway-stack:mcp:ServerRoute$kubernetes:mcp.kagenti.com/v1alpha1:MCPServer::kubernetes-mcp-mcp-server";

let env: Record<string, string> = {};
let s: Scratch;
// No Go module serves the MCPServer CRD: without a local copy the MCPServer is left out of the run.
let haveMcpServerCrd = false;
const scope = () => (haveMcpServerCrd ? {} : { exclude: [MCP_SERVER_URN] });

function kube(method: string, apiPath: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(apiPath, env.APISERVER_URL);
    const req = https.request(
      url,
      {
        method,
        ca: fs.readFileSync(env.APISERVER_CA),
        headers: { authorization: `Bearer ${env.APISERVER_TOKEN}`, "content-type": "application/json" },
      },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: data ? JSON.parse(data) : {} }));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
const listenerNames = async () => (await kube("GET", GATEWAY)).json.spec.listeners.map((l: { name: string }) => l.name);

beforeAll(async () => {
  const out = execFileSync("bash", ["testbed/apiserver/start.sh"], { cwd: REPO_ROOT, encoding: "utf8" });
  env = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2].replace(/^'|'$/g, "")]));
  execFileSync("bash", ["testbed/apiserver/crds.sh", env.APISERVER_DIR], { cwd: REPO_ROOT, stdio: "inherit" });
  // crds.sh installs the MCPServer CRD only when testbed/crds/fetch-crds.sh could get it.
  haveMcpServerCrd =
    (await kube("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${MCP_SERVER_CRD}`)).status === 200;
  s = await scratchStack();
  await s.stack.setConfig("cluster.mode", { value: "existing" }, true);
  await s.stack.setConfig("cluster.kubeconfig", { value: env.KUBECONFIG, secret: true }, true);
  await s.stack.setConfig("mcpServer.manage", { value: "false" }, true);
});

afterAll(async () => {
  await s?.stack.destroy().catch(() => undefined);
  if (env.APISERVER_DIR) execFileSync("bash", ["testbed/apiserver/stop.sh", env.APISERVER_DIR], { cwd: REPO_ROOT });
});

describe("use case 1 on a real API server", () => {
  it("starts from the Gateway with its own two listeners", async () => {
    expect(await listenerNames()).toEqual(["http", "mcp"]);
  });

  it("adds the listener and registers the server with one pulumi up", async () => {
    const result = await s.stack.up(scope());
    expect(result.summary.result).toBe("succeeded");
    expect(await listenerNames()).toEqual(["http", "mcp", "kubernetes-mcp"]);
    const gateway = (await kube("GET", GATEWAY)).json;
    expect(gateway.spec.listeners[2]).toMatchObject({
      hostname: "host.containers.internal",
      port: 8080,
      protocol: "HTTP",
    });
    expect(gateway.metadata.managedFields.map((f: { manager: string }) => f.manager)).toEqual(
      expect.arrayContaining(["mcp-gateway-makefile", "mcp-gateway-stack-kubernetes-mcp"]),
    );
    const route = await kube("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp");
    expect(route.json.spec.rules[0].backendRefs[0]).toMatchObject({ name: "kubernetes-mcp-external", port: 9999 });
    const service = await kube("GET", "/api/v1/namespaces/mcp-test/services/kubernetes-mcp-external");
    expect(service.json.spec).toMatchObject({ type: "ExternalName", externalName: "host.containers.internal" });
    const entry = await kube(
      "GET",
      "/apis/networking.istio.io/v1beta1/namespaces/mcp-test/serviceentries/kubernetes-mcp",
    );
    expect(entry.status).toBe(200);
    if (haveMcpServerCrd) {
      const server = await kube(
        "GET",
        "/apis/mcp.kagenti.com/v1alpha1/namespaces/mcp-test/mcpservers/kubernetes-mcp-server",
      );
      expect(server.json.spec).toMatchObject({
        toolPrefix: "kube_",
        targetRef: { kind: "HTTPRoute", name: "kubernetes-mcp" },
      });
    }
  });

  it("a second up leaves the cluster untouched; only the listener patch shows a no-op update", async () => {
    // pulumi-kubernetes 4.25 diffs a Patch of a CRD's map list by position (live [http, mcp,
    // kubernetes-mcp] against [kubernetes-mcp]), so the patch always previews as an update;
    // applying it again changes nothing on the server. Every other resource is unchanged.
    const before = (await kube("GET", GATEWAY)).json.metadata.resourceVersion;
    const updates = stepCounter("update");
    const preview = await s.stack.preview({ ...scope(), onEvent: updates.onEvent });
    expect(updates.counts).toEqual({ "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1 });
    expect(preview.changeSummary.create ?? 0).toBe(0);
    const result = await s.stack.up(scope());
    expect(result.summary.resourceChanges).toMatchObject({ update: 1 });
    expect((await kube("GET", GATEWAY)).json.metadata.resourceVersion).toBe(before);
    expect(await listenerNames()).toEqual(["http", "mcp", "kubernetes-mcp"]);
  });

  it("shows a port change as in-place updates of the Service, the ServiceEntry and the route", async () => {
    await s.stack.setConfig("mcpServer.port", { value: "9998" }, true);
    const updates = stepCounter("update");
    const preview = await s.stack.preview({ ...scope(), diff: true, onEvent: updates.onEvent });
    expect(updates.counts).toEqual({
      "kubernetes:core/v1:Service": 1,
      "kubernetes:networking.istio.io/v1beta1:ServiceEntry": 1,
      "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
      "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1,
    });
    expect(preview.changeSummary.replace ?? 0).toBe(0);
    expect(preview.stdout).toMatch(/9999 => 9998/);
    await s.stack.up(scope());
    const service = await kube("GET", "/api/v1/namespaces/mcp-test/services/kubernetes-mcp-external");
    expect(service.json.spec.ports[0].port).toBe(9998);
  });

  it("destroy removes only what the stack added: the Gateway keeps its own listeners", async () => {
    await s.stack.destroy();
    expect(await listenerNames()).toEqual(["http", "mcp"]);
    expect(
      (await kube("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp")).status,
    ).toBe(404);
    expect((await kube("GET", "/api/v1/namespaces/mcp-test/services/kubernetes-mcp-external")).status).toBe(404);
    expect((await kube("GET", "/api/v1/namespaces/mcp-test")).status).toBe(200);
  });
});
