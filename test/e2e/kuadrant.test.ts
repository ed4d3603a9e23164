import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseStackConfig } from "../../stacks/config";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { startKuadrantGateway } from "../../testbed/gateway/gateway";
import { callTool, listTools } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// gateway.release kuadrant-v0.9.0 on the real engine: the stack's no-auth `up` on a loopback API
// server with v0.9.0's CRDs (MCPServerRegistration's CEL rules enforced by the API server), then
// Kuadrant's own controller and broker, built from the tag, take the registration.
const TAG = "kuadrant-v0.9.0";
const REGISTRATION = "/apis/mcp.kuadrant.io/v1/namespaces/mcp-test/mcpserverregistrations/kubernetes-mcp-server";

let apiServer: ApiServer;
let s: Scratch;
let port: number;
let gateway: Awaited<ReturnType<typeof startKuadrantGateway>>;
let brokerUrl = "";
const defaults = parseStackConfig({ values: {} }).gateway;

async function ready(): Promise<{ status: string; message: string } | undefined> {
  const conditions = (await apiServer.kube.get(REGISTRATION)).json.status?.conditions ?? [];
  const c = conditions.find((k: { type: string }) => k.type === "Ready");
  return c && { status: c.status, message: c.message };
}

beforeAll(async () => {
  apiServer = startApiServer(undefined, TAG);
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port });
  await s.stack.setConfig("gateway.release", { value: TAG }, true);
  await s.stack.setConfig("mcpServer.host", { value: "localhost" }, true);
  expect((await s.stack.up()).summary.result).toBe("succeeded");
  gateway = await startKuadrantGateway(apiServer, {
    routes: [{ namespace: "mcp-test", name: "kubernetes-mcp" }],
    gateway: { namespace: defaults.namespace, name: defaults.name },
    publicHost: defaults.publicHost,
  });
});

afterAll(async () => {
  // The controller removes its finalizer from the registration: destroy while it still runs.
  await tearDownStack(s);
  await gateway?.stop();
  apiServer?.stop();
});

describe("Kuadrant's controller and broker (v0.9.0) on what the stack registered", () => {
  it("the MCPServerRegistration becomes Ready and the broker entry is named after it, with its prefix and the route's URL", async () => {
    const yaml = await gateway.config();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await ready())?.status !== "True") await new Promise((r) => setTimeout(r, 500));
    expect(await ready(), gateway.logs()).toEqual({ status: "True", message: "config written successfully" });
    expect(parse(yaml).servers).toEqual([
      expect.objectContaining({
        name: "mcp-test/kubernetes-mcp-server",
        url: `http://localhost:${port}/mcp`,
        hostname: "localhost",
        prefix: "kube_",
        state: "Enabled",
      }),
    ]);
  });

  it("tools/list through v0.9.0's broker: exactly the server's own tools with the kube_ prefix, beside the broker's own two", async () => {
    brokerUrl = await gateway.startBroker();
    const served = await listTools(`http://127.0.0.1:${port}/mcp`);
    let viaBroker: string[] = [];
    const deadline = Date.now() + 60_000;
    const prefixed = () => viaBroker.filter((t) => t.startsWith("kube_"));
    while (Date.now() < deadline && prefixed().length < served.length) {
      viaBroker = await listTools(brokerUrl);
      if (prefixed().length < served.length) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(prefixed(), gateway.logs()).toEqual(served.map((t) => `kube_${t}`).sort());
    // v0.9.0's broker adds its own tool-discovery tools (--discovery-tools-enabled, on by default).
    expect(viaBroker.filter((t) => !t.startsWith("kube_"))).toEqual(["discover_tools", "select_tools"]);
  });

  it("kube_namespaces_list through the broker alone is refused: v0.9.0's broker does not forward tool calls either", async () => {
    expect(await callTool(brokerUrl, "kube_namespaces_list")).toEqual({
      isError: true,
      text: "Kagenti MCP Broker doesn't forward tool calls",
    });
  });

  it("a prefix change replaces the registration (the API server refuses to change an immutable prefix in place)", async () => {
    const before = (await apiServer.kube.get(REGISTRATION)).json.metadata.uid;
    const inPlace = await apiServer.kube.request(
      "PATCH",
      REGISTRATION,
      { spec: { prefix: "k8s_" } },
      "application/merge-patch+json",
    );
    expect(inPlace.status).toBe(422);
    expect(inPlace.text).toContain("prefix is immutable once set");
    await s.stack.setConfig("mcpServer.toolPrefix", { value: "k8s_" }, true);
    const up = await s.stack.up();
    expect(up.summary.result).toBe("succeeded");
    const after = (await apiServer.kube.get(REGISTRATION)).json;
    expect(after.spec.prefix).toBe("k8s_");
    expect(after.metadata.uid).not.toBe(before);
  });
});
