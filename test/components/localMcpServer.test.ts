import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kubeconfigContents } from "../../components/gatewayCluster";
import {
  kubeconfigWithoutCredentials,
  platformPackage,
  resolveMcpServerBinary,
  serverEnvironment,
  startScript,
  stopScript,
} from "../../components/localMcpServer";
import { GUIDE_TOOLS } from "../../components/tools";
import { REPO_ROOT } from "../support/pulumiHarness";

// The start and stop scripts of the LocalMcpServer, run for real with bash against the binary
// `npm ci` installed. No cluster is needed: the server answers MCP without one.
const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-state-"));
const port = 20000 + (process.pid % 20000);
const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}
- {name: b, cluster: {server: "https://127.0.0.1:2", insecure-skip-tls-verify: true}}
contexts:
- {name: ctx-a, context: {cluster: a, user: u}}
- {name: ctx-b, context: {cluster: b, user: u}}
current-context: ctx-a
users:
- {name: u, user: {token: abc}}
`;
const env = {
  ...process.env,
  XDG_STATE_HOME: stateHome,
  ...(serverEnvironment(
    {
      port,
      bindAddress: "127.0.0.1",
      toolsets: ["core", "config", "helm"],
      kubeconfig,
      binary: resolveMcpServerBinary(REPO_ROOT),
      waitSeconds: 20,
    },
    "unit",
  ) as Record<string, string>),
};
const run = (script: string, extra: Record<string, string> = {}) =>
  spawnSync("bash", ["-c", script], { cwd: REPO_ROOT, env: { ...env, ...extra }, encoding: "utf8", timeout: 60_000 });
// A process that exists and is not a zombie (an exited child nobody has reaped yet).
const alive = (pid: string) => {
  const stat = spawnSync("ps", ["-p", pid, "-o", "stat="], { encoding: "utf8" });
  return stat.status === 0 && !stat.stdout.trim().startsWith("Z");
};

async function mcp(method: string, session?: string): Promise<{ session: string; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(session ? { "mcp-session-id": session } : {}),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method,
      params:
        method === "initialize"
          ? { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "test", version: "1" } }
          : {},
    }),
  });
  return { session: res.headers.get("mcp-session-id") ?? session ?? "", body: await res.text() };
}

describe("the kubeconfig the server gets in oidc", () => {
  it("keeps clusters and contexts and drops every user's credentials", () => {
    const stripped = parse(kubeconfigWithoutCredentials(kubeconfig));
    expect(stripped.clusters).toEqual(parse(kubeconfig).clusters);
    expect(stripped["current-context"]).toBe("ctx-a");
    expect(stripped.users).toEqual([{ name: "u", user: {} }]);
  });

  it("reads a kubeconfig given as a path, and takes contents as they are", () => {
    const file = path.join(stateHome, "given-kubeconfig");
    fs.writeFileSync(file, kubeconfig);
    expect(kubeconfigContents(file)).toBe(kubeconfig);
    expect(kubeconfigContents(kubeconfig)).toBe(kubeconfig);
  });
});

describe("kubernetes-mcp-server as a host process", () => {
  let pid = "";
  afterAll(() => {
    if (pid && alive(pid)) process.kill(Number(pid));
    fs.rmSync(stateHome, { recursive: true, force: true });
  });

  it("finds the binary of this platform in node_modules, relative to the project", () => {
    expect(platformPackage("linux", "x64")).toBe("kubernetes-mcp-server-linux-amd64");
    expect(platformPackage("darwin", "arm64")).toBe("kubernetes-mcp-server-darwin-arm64");
    expect(() => platformPackage("aix", "ppc64")).toThrow(/no binary for aix\/ppc64/);
    const bin = resolveMcpServerBinary(REPO_ROOT);
    expect(path.isAbsolute(bin)).toBe(false);
    expect(fs.existsSync(path.join(REPO_ROOT, bin))).toBe(true);
  });

  it("starts in the background, waits until it answers, and prints only its pid", () => {
    const started = run(startScript);
    expect(started.stderr).toBe("");
    expect(started.status).toBe(0);
    pid = started.stdout.trim();
    expect(pid).toMatch(/^\d+$/);
    expect(alive(pid)).toBe(true);
    const args = execFileSync("ps", ["-p", pid, "-o", "args="], { encoding: "utf8" });
    expect(args).toContain(
      `--port ${port} --bind-address 127.0.0.1 --toolsets core,config,helm --kubeconfig ${stateHome}/mcp-gateway-stack/unit/kubeconfig`,
    );
    expect(fs.statSync(path.join(stateHome, "mcp-gateway-stack/unit/kubeconfig")).mode & 0o777).toBe(0o600);
  });

  it("serves every tool the guide grants (the tools/list of the real binary)", async () => {
    const { session } = await mcp("initialize");
    const { body } = await mcp("tools/list", session);
    const served = [...body.matchAll(/"name":"([a-z_]+)"/g)].map((m) => m[1]);
    expect(served).toEqual(expect.arrayContaining([...GUIDE_TOOLS]));
  });

  it("runs in a session of its own: a signal to the group that started it does not stop it", () => {
    // The command plugin signals its process group when it exits; nohup alone did not survive that.
    const pidFile = path.join(stateHome, "mcp-gateway-stack/unit/server.pid");
    expect(fs.readFileSync(pidFile, "utf8").trim()).toBe(pid);
    const sid = execFileSync("ps", ["-p", pid, "-o", "sid="], { encoding: "utf8" }).trim();
    expect(sid).toBe(pid);
  });

  it("outlives a SIGINT to the process group of the step that started it (as the command plugin sends)", async () => {
    const otherPort = String(port + 1);
    const script = `${startScript}\nkill -INT 0\n`;
    const started = spawnSync("setsid", ["bash", "-c", script], {
      cwd: REPO_ROOT,
      env: { ...env, MCP_STACK: "unit-group", MCP_PORT: otherPort },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(started.signal).toBe("SIGINT");
    const groupPid = started.stdout.trim();
    expect(groupPid).toMatch(/^\d+$/);
    // The server shuts down gracefully within a few hundred ms of a SIGINT: give it the time.
    await new Promise((r) => setTimeout(r, 2000));
    expect(alive(groupPid)).toBe(true);
    const stopped = run(stopScript, { MCP_STACK: "unit-group", MCP_PORT: otherPort, PULUMI_COMMAND_STDOUT: groupPid });
    expect(stopped.status).toBe(0);
    expect(alive(groupPid)).toBe(false);
  });

  it("refuses to start next to a server it did not start on the same port, naming the port and the config key", () => {
    const pidFile = path.join(stateHome, "mcp-gateway-stack/unit/server.pid");
    fs.renameSync(pidFile, `${pidFile}.away`);
    try {
      const second = run(startScript);
      expect(second.status).not.toBe(0);
      expect(second.stderr).toContain(`port ${port} already answers /healthz`);
      expect(second.stderr).toContain("mcpServer.port");
      expect(alive(pid)).toBe(true);
    } finally {
      fs.renameSync(`${pidFile}.away`, pidFile);
    }
  });

  it("replaces the server an interrupted update left running (found by its pid file): never two", () => {
    const again = run(startScript);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`stopping kubernetes-mcp-server pid ${pid}, left running by an interrupted update`);
    expect(alive(pid)).toBe(false);
    pid = again.stdout.trim();
    expect(alive(pid)).toBe(true);
    const servers = execFileSync("ps", ["-eo", "args="], { encoding: "utf8" })
      .split("\n")
      .filter((a) => a.includes("kubernetes-mcp-server") && a.includes(`--port ${port} `));
    expect(servers).toHaveLength(1);
  });

  it("stops exactly the process it started and removes the kubeconfig copy", async () => {
    const stopped = run(stopScript, { PULUMI_COMMAND_STDOUT: `${pid}\n`.trim() });
    expect(stopped.status).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(path.join(stateHome, "mcp-gateway-stack/unit/kubeconfig"))).toBe(false);
  });

  it("kills a server that ignores SIGTERM once the grace period is over", () => {
    const fake = path.join(stateHome, "kubernetes-mcp-server-stubborn");
    fs.writeFileSync(fake, "#!/bin/bash\ntrap '' TERM\nwhile :; do sleep 0.2; done\n", { mode: 0o755 });
    const child = spawnSync("bash", ["-c", `"${fake}" --port ${port} >/dev/null 2>&1 & echo $!`], { encoding: "utf8" });
    const stubborn = child.stdout.trim();
    const stopped = run(stopScript, { PULUMI_COMMAND_STDOUT: stubborn, MCP_STOP_GRACE_SECONDS: "1" });
    expect(stopped.status).toBe(0);
    expect(stopped.stderr).toContain(`kubernetes-mcp-server (pid ${stubborn}) ignored SIGTERM`);
    expect(alive(stubborn)).toBe(false);
  });

  it("does not take a server on another port for its own (the port must match exactly)", () => {
    const fake = path.join(stateHome, "kubernetes-mcp-server-other");
    fs.writeFileSync(fake, "#!/bin/bash\nwhile :; do sleep 0.2; done\n", { mode: 0o755 });
    const other = spawnSync("bash", ["-c", `"${fake}" --port ${port}0 >/dev/null 2>&1 & echo $!`], {
      encoding: "utf8",
    }).stdout.trim();
    expect(run(stopScript, { PULUMI_COMMAND_STDOUT: other }).status).toBe(0);
    expect(alive(other)).toBe(true);
    process.kill(Number(other), "SIGKILL");
  });

  it("leaves an unrelated process alone when the recorded pid was reused", () => {
    const other = spawnSync("bash", ["-c", "sleep 30 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" }).stdout.trim();
    expect(run(stopScript, { PULUMI_COMMAND_STDOUT: other }).status).toBe(0);
    expect(alive(other)).toBe(true);
    process.kill(Number(other));
  });

  it("fails with the server's log when the binary cannot start", () => {
    const broken = run(startScript, { MCP_TOOLSETS: "no-such-toolset" });
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain("kubernetes-mcp-server exited before answering");
  });
});
