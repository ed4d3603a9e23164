import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { hostStateDir, scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { freePort, portAnswers, processesWith } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// A `pulumi up` killed with SIGKILL half way (the CLI, its language host and plugins: a killed CI
// job), then the recovery the README gives. The MCP server it started runs in a session of its own
// and outlives the kill: the next up must find it by its pid file, never start a second one.
const TAG = "guide-397bf8d";
const ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";

let apiServer: ApiServer;
let s: Scratch;
let port: number;
const servers = () => processesWith("kubernetes-mcp-server", `--port ${port} `);

/** The pulumi CLI of the scratch stack, synchronously (the README's recovery commands). */
const pulumi = (...args: string[]) =>
  spawnSync("pulumi", [...args, "--stack", "dev", "--non-interactive"], {
    cwd: s.dir,
    env: { ...process.env, ...s.env },
    encoding: "utf8",
    timeout: 300_000,
  });

beforeAll(async () => {
  apiServer = startApiServer();
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port });
});

afterAll(async () => {
  if (s) pulumi("cancel", "--yes"); // a lock left by a failed test must not stop the cleanup
  await tearDownStack(s);
  apiServer?.stop();
});

describe("an up killed with SIGKILL half way", () => {
  it("is killed once its MCP server runs, before the rest of the graph is done", async () => {
    const up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", "dev", "--non-interactive"], {
      cwd: s.dir,
      env: { ...process.env, ...s.env },
      detached: true, // its own process group: the CLI, the language host and the plugins
      stdio: "ignore",
    });
    const pidFile = path.join(hostStateDir(s), "server.pid");
    const deadline = Date.now() + 120_000;
    while (!(fs.existsSync(pidFile) && portAnswers(port))) {
      if (Date.now() > deadline) throw new Error("the MCP server never started");
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-up.pid!, "SIGKILL");
    await new Promise((r) => up.once("exit", r));
    expect(servers()).toHaveLength(1);
  });

  it("recovers with the README's steps: cancel (the killed run's lock), refresh (clearing pending creates), up", async () => {
    const blocked = pulumi("up", "--yes", "--skip-preview");
    expect(blocked.status).not.toBe(0);
    expect(blocked.stderr).toContain("the stack is currently locked");
    const cancel = pulumi("cancel", "--yes");
    expect(cancel.status, cancel.stderr + cancel.stdout).toBe(0);
    // Half way indeed: the killed run left an unfinished state.
    const killed = JSON.parse(pulumi("stack", "export").stdout).deployment;
    expect((killed.pending_operations ?? []).length > 0 || (killed.resources ?? []).length < 13).toBe(true);
    const refresh = pulumi("refresh", "--yes", "--clear-pending-creates");
    expect(refresh.status, refresh.stderr + refresh.stdout).toBe(0);
    const up = pulumi("up", "--yes", "--skip-preview");
    expect(up.status, up.stderr + up.stdout).toBe(0);
    expect(servers()).toHaveLength(1);
    expect((await apiServer.kube.get(ROUTES)).json.items).toHaveLength(1);
    const listeners = (await apiServer.kube.get(GATEWAY)).json.spec.listeners.map((l: { name: string }) => l.name);
    expect(listeners).toEqual(["http", "mcp", "kubernetes-mcp"]);
    const urns = ((await s.stack.exportStack()).deployment.resources ?? []).map((r: { urn: string }) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
    expect(urns).toHaveLength(14);
  });

  it("destroy then leaves nothing: no object, no server process, the port free", async () => {
    await s.stack.destroy();
    expect((await apiServer.kube.get(ROUTES)).json.items).toEqual([]);
    expect(servers()).toEqual([]);
    expect(portAnswers(port)).toBe(false);
  });
});
