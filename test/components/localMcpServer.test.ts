import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
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
const alive = (pid: string) => spawnSync("kill", ["-0", pid]).status === 0;

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

describe("kubernetes-mcp-server as a host process", () => {
  let pid = "";
  afterAll(() => {
    if (pid && alive(pid)) process.kill(Number(pid));
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
      `--port ${port} --toolsets core,config,helm --kubeconfig ${stateHome}/mcp-gateway-stack/unit/kubeconfig`,
    );
    expect(fs.statSync(path.join(stateHome, "mcp-gateway-stack/unit/kubeconfig")).mode & 0o777).toBe(0o600);
  });

  it("serves every tool the guide grants (the tools/list of the real binary)", async () => {
    const { session } = await mcp("initialize");
    const { body } = await mcp("tools/list", session);
    const served = [...body.matchAll(/"name":"([a-z_]+)"/g)].map((m) => m[1]);
    expect(served).toEqual(expect.arrayContaining([...GUIDE_TOOLS]));
  });

  it("refuses to start a second server on the same port, naming the port and the config key", () => {
    const second = run(startScript);
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain(`port ${port} already answers /healthz`);
    expect(second.stderr).toContain("mcpServer.port");
  });

  it("stops exactly the process it started and removes the kubeconfig copy", async () => {
    const stopped = run(stopScript, { PULUMI_COMMAND_STDOUT: `${pid}\n`.trim() });
    expect(stopped.status).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(path.join(stateHome, "mcp-gateway-stack/unit/kubeconfig"))).toBe(false);
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
