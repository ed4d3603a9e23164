import * as fs from "node:fs";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scratchStack, type Scratch } from "./engine";
import { freePort, gatewayRepo, portAnswers, processesWith, standIns, startApiServer, type ApiServer } from "./testbed";

// Kind mode with the real command plugin. Only `make` and the checkout's `bin/kind` are stand-ins
// (testbed/standins: no container runtime here): they record their calls, and `kind get
// kubeconfig` hands out the loopback API server's kubeconfig. Everything else is real: the git
// clone of the gateway repository, the engine, the kubernetes-mcp-server process.
const TAG = "guide-397bf8d";
const ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp";
const SETUP = "command:local:Command::cluster-local-env";

let apiServer: ApiServer;
let bed: ReturnType<typeof standIns>;
let s: Scratch;
let port: number;
let kubeToken: string;

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
  apiServer = startApiServer();
  kubeToken = apiServer.token;
  bed = standIns(apiServer);
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
  await s?.stack.destroy().catch(() => undefined);
  apiServer?.stop();
});

describe("kind mode: the gateway's make targets, run by the real command plugin", () => {
  let events: string;

  it("up clones the gateway at the pin, runs make local-env-setup once and reads the kubeconfig from kind", async () => {
    const seen: EngineEvent[] = [];
    const result = await s.stack.up({ onEvent: (e) => seen.push(e) });
    events = JSON.stringify(seen);
    expect(result.summary.result).toBe("succeeded");
    expect(bed.calls()).toEqual([
      "make local-env-setup KIND_CLUSTER_NAME=mcp-gateway",
      "kind get kubeconfig --name mcp-gateway",
    ]);
    const checkout = path.join(s.dir, ".mcp-gateway");
    expect(fs.existsSync(path.join(checkout, "config/kind/cluster.yaml"))).toBe(true);
    expect((await apiServer.kube.get(ROUTE)).status).toBe(200);
    expect(processesWith("kubernetes-mcp-server", `--port ${port} `)).toHaveLength(1);
    // The kubeconfig that `kind get kubeconfig` printed is a secret: in no event, output or log.
    expect(result.stdout + result.stderr + events).not.toContain(kubeToken);
  });

  it("keeps the kubeconfig kind printed only encrypted in state", async () => {
    const state = JSON.stringify(await s.stack.exportStack());
    expect(state).not.toContain(kubeToken);
    const files = fs
      .readdirSync(s.stateDir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8"))
      .join("\n");
    expect(files).not.toContain(kubeToken);
    expect(files).toContain("ciphertext");
  });

  it("a second up runs no make target", async () => {
    await s.stack.up();
    expect(bed.calls()).toHaveLength(2);
  });

  it("a changed cluster.name replaces the cluster: objects deleted, old cluster torn down, then the new one set up", async () => {
    await s.stack.setConfig("cluster.name", { value: "mcp-gateway-2" }, true);
    const log = stepLog();
    const result = await s.stack.up({ onEvent: log.onEvent });
    expect(result.summary.result).toBe("succeeded");
    expect(bed.calls().slice(2)).toEqual([
      "make local-env-teardown KIND_CLUSTER_NAME=mcp-gateway",
      "make local-env-setup KIND_CLUSTER_NAME=mcp-gateway-2",
      "kind get kubeconfig --name mcp-gateway-2",
    ]);
    // The old cluster's objects went before the cluster did.
    const teardown = log.at("delete-replaced", SETUP);
    expect(teardown).toBeGreaterThan(-1);
    for (const obj of [
      "HTTPRoute::kubernetes-mcp-route",
      "Service::kubernetes-mcp-external",
      "GatewayPatch::kubernetes-mcp-patch",
    ]) {
      const deleted = log.at("delete-replaced", obj);
      expect(deleted, obj).toBeGreaterThan(-1);
      expect(deleted, obj).toBeLessThan(teardown);
    }
    expect((await apiServer.kube.get(ROUTE)).status).toBe(200);
  });

  it("destroy removes every object, then runs make local-env-teardown once, last", async () => {
    const log = stepLog();
    await s.stack.destroy({ onEvent: log.onEvent });
    expect(bed.calls().slice(5)).toEqual(["make local-env-teardown KIND_CLUSTER_NAME=mcp-gateway-2"]);
    const teardown = log.at("delete", SETUP);
    for (const obj of ["HTTPRoute::kubernetes-mcp-route", "MCPServer::kubernetes-mcp-mcp-server"]) {
      expect(log.at("delete", obj), obj).toBeLessThan(teardown);
    }
    expect((await apiServer.kube.get(ROUTE)).status).toBe(404);
    expect(portAnswers(port)).toBe(false);
  });
});
