import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { registrationIsRoutable } from "../../policy/rules";
import { parseStackConfig } from "../../stacks/config";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { BROKER_CONFIG, startGateway, type Gateway } from "../../testbed/gateway/gateway";
import { callTool, listTools } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import { asSeen, brokenRegistrations, type Manifest } from "../support/brokenRegistrations";

// The gateway's own controller and broker (cmd/mcp-broker-router of the guide's merge, built from
// the gateway repository) take what the stack registers: the stack's no-auth `up` on the loopback
// API server, with the kubernetes-mcp-server on loopback under the host name `localhost`; then the
// controller turns the MCPServer, its HTTPRoute and the ExternalName Service into the broker's
// configuration, and the broker lists the server's tools under the prefix.
const TAG = "guide-fd2e9da";
const MCP_SERVER = "/apis/mcp.kagenti.com/v1alpha1/namespaces/mcp-test/mcpservers";

let apiServer: ApiServer;
let s: Scratch;
let port: number;
let gateway: Gateway;

interface Ready {
  status: string;
  message: string;
  discoveredTools: number;
}

async function readyOf(name: string): Promise<Ready | undefined> {
  const status = (await apiServer.kube.get(`${MCP_SERVER}/${name}`)).json.status;
  const ready = status?.conditions?.find((c: { type: string }) => c.type === "Ready");
  return ready && { status: ready.status, message: ready.message, discoveredTools: status.discoveredTools ?? 0 };
}

/** Polls until `accept` holds for the MCPServer's Ready condition; the last one seen otherwise. */
async function readyWhen(name: string, accept: (r: Ready) => boolean, seconds = 60): Promise<Ready | undefined> {
  const deadline = Date.now() + seconds * 1000;
  let last: Ready | undefined;
  while (Date.now() < deadline) {
    last = await readyOf(name);
    if (last && accept(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

const brokerEntries = async () =>
  (
    parse((await apiServer.kube.get(BROKER_CONFIG)).json.data["config.yaml"]) as {
      servers: Array<Record<string, unknown>>;
    }
  ).servers;

beforeAll(async () => {
  apiServer = startApiServer();
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port });
  // The broker reaches the server by the route's ExternalName: a name that resolves to loopback here.
  await s.stack.setConfig("mcpServer.host", { value: "localhost" }, true);
  expect((await s.stack.up()).summary.result).toBe("succeeded");
  gateway = await startGateway(apiServer, TAG, parseStackConfig({ values: {} }).gateway.publicHost);
});

afterAll(async () => {
  await gateway?.stop();
  await tearDownStack(s);
  apiServer?.stop();
});

describe("the gateway's controller and broker (guide-fd2e9da) on what the stack registered", () => {
  it("the controller writes a broker entry for the server: its name, prefix and the URL from the route and the ExternalName Service", async () => {
    const yaml = await gateway.syncConfig();
    expect(parse(yaml).servers).toEqual([
      {
        name: "mcp-test/kubernetes-mcp",
        url: `http://localhost:${port}/mcp`,
        hostname: "localhost",
        toolPrefix: "kube_",
        enabled: true,
      },
    ]);
  });

  it("with the broker serving that entry, the MCPServer is Ready with every tool of the server", async () => {
    const served = await listTools(`http://127.0.0.1:${port}/mcp`);
    // The controller validated before the broker had the entry (it calls that "0 servers", Ready)
    // and has no event to look again; a restart is that event here.
    await gateway.restartController();
    const ready = await readyWhen("kubernetes-mcp-server", (r) => r.discoveredTools > 0);
    expect(ready, gateway.logs()).toEqual({
      status: "True",
      message: `MCPServer successfully reconciled and validated 1 servers with ${served.length} tools`,
      discoveredTools: served.length,
    });
  });

  it("tools/list through the broker (official MCP SDK): exactly the server's own tools, each with the kube_ prefix", async () => {
    const served = await listTools(`http://127.0.0.1:${port}/mcp`);
    const viaBroker = await listTools(gateway.brokerUrl);
    expect(viaBroker).toEqual(served.map((t) => `kube_${t}`).sort());
    expect(viaBroker).toContain("kube_namespaces_list");
  });

  it("kube_namespaces_list through the broker alone is refused: this release's broker does not forward tool calls (Envoy and the router do)", async () => {
    const result = await callTool(gateway.brokerUrl, "kube_namespaces_list");
    expect(result).toEqual({ isError: true, text: "Kagenti MCP Broker doesn't forward tool calls" });
  });
});

describe("broken registrations: the controller's verdict, and the policy pack refusing the same objects before up", () => {
  const cases = brokenRegistrations({
    host: "localhost",
    port: 9999,
    gatewayName: "mcp-gateway",
    gatewayNamespace: "gateway-system",
  });
  const apply = async (o: Manifest) => {
    const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const plural = { Service: "services", HTTPRoute: "httproutes", MCPServer: "mcpservers" }[o.kind];
    const res = await apiServer.kube.request("POST", `${base}/namespaces/${o.metadata.namespace}/${plural}`, o);
    expect(res.status, res.text).toBe(201);
  };

  it.each(cases)("$title", async ({ name, objects, controller }) => {
    const policy = registrationIsRoutable(asSeen(objects));
    expect(policy).toHaveLength(1);
    for (const o of objects) await apply(o);
    if ("readyMessage" in controller) {
      const ready = await readyWhen(name, (r) => r.message === controller.readyMessage, 30);
      expect(ready, gateway.logs()).toEqual({ status: "False", message: controller.readyMessage, discoveredTools: 0 });
      expect(policy[0]).toContain(controller.readyMessage);
    } else {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(await brokerEntries()).some((e) => e.url === controller.brokerUrl))
        await new Promise((r) => setTimeout(r, 500));
      expect((await brokerEntries()).find((e) => e.name === `mcp-test/${name}`)?.url).toBe(controller.brokerUrl);
      expect(policy[0]).toContain(`${controller.brokerUrl.split("/")[2].split(":")[0]}, not at the server outside`);
    }
  });
});
