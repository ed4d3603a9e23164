import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiServer } from "../../testbed/apiserver/apiServer";
import { scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack } from "../../testbed/engine/useTestBed";
import { gatewayRepo } from "../../testbed/gateway/checkout";
import { listTools } from "../../testbed/mcp";
import { freePort, portAnswers, processesWith } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// Kind mode with the real command plugin. Only `make` and the checkout's `bin/kind` are stand-ins
// (testbed/standins: no container runtime here): they record their calls, each "Kind cluster" is a
// loopback API server of its own, and `kind get kubeconfig` hands out its kubeconfig. Everything
// else is real: the git clone of the gateway repository, the engine, the kubernetes-mcp-server.
const TAG = "guide-397bf8d";
const ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
const SETUP = "command:local:Command::cluster-local-env";
/** The objects the stack puts on the cluster (URN suffixes). */
const OBJECTS = [
  "GatewayPatch::kubernetes-mcp-patch",
  "HTTPRoute::kubernetes-mcp-route",
  "Service::kubernetes-mcp-external",
  "ServiceEntry::kubernetes-mcp-service-entry",
  "MCPServer::kubernetes-mcp-mcp-server",
];

let bed: ReturnType<typeof standIns>;
let s: Scratch;
let port: number;
/** The "Kind cluster" the stack made, and its admin token (in the kubeconfig kind prints). */
let cluster: ApiServer;

/** The URNs of finished steps of one op, in the order the engine finished them. */
function stepLog() {
  const steps: Array<{ op: string; urn: string }> = [];
  return {
    steps,
    onEvent: (e: EngineEvent) => {
      const m = e.resOutputsEvent?.metadata;
      if (m) steps.push({ op: m.op, urn: m.urn });
    },
    /** Index of the first finished step of `op` whose URN ends with `suffix`. */
    at: (op: string, suffix: string) => steps.findIndex((x) => x.op === op && x.urn.endsWith(suffix)),
  };
}

beforeAll(async () => {
  bed = standIns();
  s = await scratchStack("dev", bed.env);
  port = freePort();
  await s.stack.setAllConfig(
    {
      "cluster.mode": { value: "kind" },
      "cluster.repoUrl": { value: gatewayRepo() },
      "cluster.ref": { value: TAG },
      "mcpServer.port": { value: String(port) },
      "mcpServer.bindAddress": { value: "127.0.0.1" },
    },
    true,
  );
});

afterAll(async () => {
  await tearDownStack(s);
  bed?.stopClusters();
});

describe("kind mode: the gateway's make targets, run by the real command plugin", () => {
  let output = "";
  let events = "";
  let debugEvents = "";

  it("up clones the gateway at the pin, runs make local-env-setup once and reads the kubeconfig from kind", async () => {
    const seen: EngineEvent[] = [];
    const result = await s.stack.up({ onEvent: (e) => seen.push(e) });
    const isDebug = (e: EngineEvent) => (e.diagnosticEvent?.severity as string | undefined) === "debug";
    output = result.stdout + result.stderr;
    events = JSON.stringify(seen.filter((e) => !isDebug(e)));
    debugEvents = JSON.stringify(seen.filter(isDebug));
    expect(result.summary.result).toBe("succeeded");
    expect(bed.calls()).toEqual([
      "make local-env-setup KIND_CLUSTER_NAME=mcp-gateway",
      "kind get kubeconfig --name mcp-gateway",
    ]);
    const checkout = path.join(s.dir, ".mcp-gateway");
    expect(fs.existsSync(path.join(checkout, "config/kind/cluster.yaml"))).toBe(true);
    cluster = bed.cluster("mcp-gateway")!;
    expect((await cluster.kube.get(ROUTE)).status).toBe(200);
    expect(processesWith("kubernetes-mcp-server", `--port ${port} `)).toHaveLength(1);
  });

  it("keeps the kubeconfig kind printed out of the output, the engine's events and state", async () => {
    expect(output).not.toContain(cluster.token);
    // Debug-level diagnostics are left out: @pulumi/pulumi 3.248 logs each RegisterResource
    // response there, secret outputs included (README: "Secrets"). Shown only with --debug.
    expect(events).not.toContain(cluster.token);
    expect(debugEvents).toContain(cluster.token);
    const exported = execFileSync("pulumi", ["stack", "export", "--stack", "dev"], {
      cwd: s.dir,
      env: { ...process.env, ...s.env },
    }).toString();
    expect(exported).toContain("ciphertext");
    expect(exported).not.toContain(cluster.token);
    const files = fs
      .readdirSync(s.stateDir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8"))
      .join("\n");
    expect(files).not.toContain(cluster.token);
    expect(files).toContain("ciphertext");
  });

  it("a second up runs no make target", async () => {
    await s.stack.up();
    expect(bed.calls()).toHaveLength(2);
  });

  it("a changed cluster.name replaces the cluster: the old one torn down first, then the new one set up", async () => {
    const old = cluster;
    await s.stack.setConfig("cluster.name", { value: "mcp-gateway-2" }, true);
    const result = await s.stack.up();
    expect(result.summary.result).toBe("succeeded");
    expect(bed.calls().slice(2)).toEqual([
      "make local-env-teardown KIND_CLUSTER_NAME=mcp-gateway",
      "make local-env-setup KIND_CLUSTER_NAME=mcp-gateway-2",
      "kind get kubeconfig --name mcp-gateway-2",
    ]);
    // The old cluster is gone with its objects (state forgets them: deleteUnreachable, Kind only);
    // the new one holds the registration.
    expect(processesWith("kube-apiserver", old.dir)).toEqual([]);
    cluster = bed.cluster("mcp-gateway-2")!;
    expect((await cluster.kube.get(ROUTE)).status).toBe(200);
    const listeners = (await cluster.kube.get(GATEWAY)).json.spec.listeners.map((l: { name: string }) => l.name);
    expect(listeners).toEqual(["http", "mcp", "kubernetes-mcp"]);
    expect(await listTools(`http://127.0.0.1:${port}/mcp`)).toContain("namespaces_list");
  });

  it("destroy removes every object, then runs make local-env-teardown once, last", async () => {
    const log = stepLog();
    await s.stack.destroy({ onEvent: log.onEvent });
    expect(bed.calls().slice(5)).toEqual(["make local-env-teardown KIND_CLUSTER_NAME=mcp-gateway-2"]);
    const teardown = log.at("delete", SETUP);
    expect(teardown).toBeGreaterThan(-1);
    for (const obj of OBJECTS) {
      const deleted = log.at("delete", obj);
      expect(deleted, obj).toBeGreaterThan(-1);
      expect(deleted, obj).toBeLessThan(teardown);
    }
    expect(processesWith("kube-apiserver", cluster.dir)).toEqual([]);
    expect(portAnswers(port)).toBe(false);
  });
});
