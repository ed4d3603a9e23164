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
  serverGeneration,
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
      projectDir: REPO_ROOT,
      waitSeconds: 20,
    },
    "unit",
    0,
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
      env: { ...env, MCP_STATE_KEY: "unit-group", MCP_PORT: otherPort },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(started.signal).toBe("SIGINT");
    const groupPid = started.stdout.trim();
    expect(groupPid).toMatch(/^\d+$/);
    // The server shuts down gracefully within a few hundred ms of a SIGINT: give it the time.
    await new Promise((r) => setTimeout(r, 2000));
    expect(alive(groupPid)).toBe(true);
    const stopped = run(stopScript, {
      MCP_STATE_KEY: "unit-group",
      MCP_PORT: otherPort,
      PULUMI_COMMAND_STDOUT: groupPid,
    });
    expect(stopped.status).toBe(0);
    expect(alive(groupPid)).toBe(false);
  });

  it("starts the server with PATH and HOME alone: no kubeconfig in its environment", () => {
    const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
    expect(environ.map((e) => e.split("=")[0]).sort()).toEqual(["HOME", "PATH"]);
    expect(environ.join("\n")).not.toContain("abc");
  });

  it("records the generation it was started as, which the program compares with its pid file", () => {
    const dir = path.join(stateHome, "mcp-gateway-stack/unit");
    expect(fs.readFileSync(path.join(dir, "generation"), "utf8").trim()).toBe("0");
    expect(serverGeneration(dir, port)).toEqual({ generation: 0, gone: undefined });
    // The same pid file once the process is gone: the next generation, and the pid that went.
    expect(serverGeneration(dir, port, () => false)).toEqual({ generation: 1, gone: pid });
  });

  it("waits for a lock another run of the stack holds, then names it", () => {
    const lock = path.join(stateHome, "mcp-gateway-stack/unit-locked/lock");
    fs.mkdirSync(lock, { recursive: true });
    fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
    const locked = run(startScript, { MCP_STATE_KEY: "unit-locked", MCP_LOCK_WAIT_SECONDS: "1" });
    expect(locked.status).not.toBe(0);
    expect(locked.stderr).toContain(`is locked by process ${process.pid} (another pulumi run of this stack)`);
    // A lock whose holder is gone (a killed run) is taken over.
    fs.writeFileSync(path.join(lock, "pid"), "999999999");
    const taken = run(stopScript, { MCP_STATE_KEY: "unit-locked", MCP_LOCK_WAIT_SECONDS: "1" });
    expect(taken.stderr).toBe("");
    expect(taken.status).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
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

  it("probes the address it binds, not loopback's 127.0.0.1", async () => {
    const other = String(port + 2);
    const extra = { MCP_STATE_KEY: "unit-bind", MCP_PORT: other, MCP_BIND_ADDRESS: "127.0.0.2" };
    const started = run(startScript, extra);
    expect(started.stderr).toBe("");
    expect(started.status).toBe(0);
    const bound = started.stdout.trim();
    await expect(fetch(`http://127.0.0.1:${other}/healthz`)).rejects.toThrow();
    expect((await fetch(`http://127.0.0.2:${other}/healthz`)).ok).toBe(true);
    expect(run(stopScript, { ...extra, PULUMI_COMMAND_STDOUT: bound }).status).toBe(0);
    expect(alive(bound)).toBe(false);
  });

  it("binds the host's address on the Kind network, as docker names it", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-docker-"));
    // docker network inspect kind: the IPv4 gateway and the IPv6 one.
    fs.writeFileSync(path.join(bin, "docker"), '#!/bin/sh\necho "127.0.0.3 fc00:f853:ccd:e793::1 "\n', { mode: 0o755 });
    const other = String(port + 3);
    const extra = { MCP_STATE_KEY: "unit-kind", MCP_PORT: other, MCP_BIND_ADDRESS: "kind-network" };
    const started = run(startScript, { ...extra, PATH: `${bin}:${process.env.PATH}` });
    expect(started.stderr).toBe("");
    const bound = started.stdout.trim();
    expect(execFileSync("ps", ["-p", bound, "-o", "args="], { encoding: "utf8" })).toContain(
      "--bind-address 127.0.0.3 ",
    );
    expect(run(stopScript, { ...extra, PULUMI_COMMAND_STDOUT: bound }).status).toBe(0);
    fs.rmSync(bin, { recursive: true });
  });

  it("says which setting to change when no container runtime knows the Kind network", () => {
    const extra = { MCP_STATE_KEY: "unit-kind", MCP_BIND_ADDRESS: "kind-network", PATH: "/usr/bin:/bin" };
    const failed = run(startScript, extra);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain("neither docker nor podman knows a network 'kind'");
    expect(failed.stderr).toContain("set mcpServer.bindAddress");
  });

  it("offers no configuration_view when told to disable it (the kubeconfig's credentials)", async () => {
    const other = String(port + 4);
    const extra = { MCP_STATE_KEY: "unit-disabled", MCP_PORT: other, MCP_DISABLED_TOOLS: "configuration_view" };
    const started = run(startScript, extra);
    expect(started.status).toBe(0);
    const call = async (body: object, session?: string) => {
      const res = await fetch(`http://127.0.0.1:${other}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(session ? { "mcp-session-id": session } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, ...body }),
      });
      return { session: res.headers.get("mcp-session-id") ?? "", text: await res.text() };
    };
    const { session } = await call({
      method: "initialize",
      params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    });
    const listed = await call({ method: "tools/list", params: {} }, session);
    expect(listed.text).toContain('"name":"configuration_contexts_list"');
    expect(listed.text).not.toContain('"name":"configuration_view"');
    const viewed = await call({ method: "tools/call", params: { name: "configuration_view", arguments: {} } }, session);
    expect(viewed.text).toContain('unknown tool \\"configuration_view\\"');
    expect(viewed.text).not.toContain("abc");
    expect(run(stopScript, { ...extra, PULUMI_COMMAND_STDOUT: started.stdout.trim() }).status).toBe(0);
    expect(fs.readdirSync(path.join(stateHome, "mcp-gateway-stack/unit-disabled"))).toEqual(["server.log"]);
  });

  it("fails with the server's log when the binary cannot start, and leaves no kubeconfig copy", () => {
    const broken = run(startScript, { MCP_TOOLSETS: "no-such-toolset" });
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain("kubernetes-mcp-server exited before answering");
    expect(fs.readdirSync(path.join(stateHome, "mcp-gateway-stack/unit"))).not.toContain("kubeconfig");
    expect(fs.readdirSync(path.join(stateHome, "mcp-gateway-stack/unit"))).not.toContain("lock");
  });
});
