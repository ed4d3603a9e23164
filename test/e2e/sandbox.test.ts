import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, scratchTmp } from "../../testbed/engine/engine";
import { portAnswers, processesWith } from "../../testbed/processes";

// `npm run sandbox` as a user runs it: up (oidc), the commands it prints, run as printed, status,
// a second up that reuses what runs, then down twice; nothing of it may be left running.
const state = scratchTmp("mcp-sandbox-state-");
const env = { ...process.env, XDG_STATE_HOME: state };
const sandbox = (...args: string[]) =>
  spawnSync("bash", [path.join(REPO_ROOT, "testbed/sandbox/sandbox.sh"), ...args], {
    cwd: REPO_ROOT,
    env,
    encoding: "utf8",
    timeout: 600_000,
  });
const sandboxDir = path.join(state, "mcp-gateway-stack-sandbox");
const recorded = (key: string) =>
  fs
    .readFileSync(path.join(sandboxDir, "env"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${key}=`))
    ?.slice(key.length + 1) ?? "";
const ours = () => processesWith(sandboxDir).concat(processesWith("mcp-apiserver."), processesWith("mcp-keycloak."));
let upOut = "";
let ports: number[] = [];

afterAll(() => {
  sandbox("down"); // also when a test failed half way
});

describe("npm run sandbox", () => {
  it("up (oidc) brings the test bed up and the stack into it, a progress line per phase", () => {
    const run = sandbox("up", "--use-case", "oidc");
    upOut = run.stdout;
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(upOut.match(/^sandbox: \[\d\/6\] .* \(\d+\.\d s\)$/gm)).toHaveLength(6);
    expect(upOut).toContain(`kubernetes-mcp-server started by the stack: http://127.0.0.1:${recorded("MCP_PORT")}/mcp`);
    ports = [
      Number(recorded("MCP_PORT")),
      Number(new URL(recorded("APISERVER_URL")).port),
      Number(new URL(recorded("KEYCLOAK_URL")).port),
    ];
    expect(ports.every((p) => portAnswers(p))).toBe(true);
  });

  it("the commands it prints, run as printed, get mcp's exchanged token and call namespaces_list", () => {
    const commands = upOut.split("# --- commands ---\n")[1].split("# --- end ---")[0];
    const run = spawnSync("bash", ["-euo", "pipefail", "-c", commands], { encoding: "utf8", env: process.env });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('"aud": "mcp-test/kubernetes-mcp"');
    expect(run.stdout).toContain('"name":"namespaces_list"');
    expect(run.stdout).toMatch(/"result":\{"content":\[\{"type":"text","text":"[^"]*mcp-test/);
  });

  it("status tells what runs and where, and the stack's outputs", () => {
    const run = sandbox("status");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`API server: running, ${recorded("APISERVER_URL")}`);
    expect(run.stdout).toContain(`Keycloak: running, ${recorded("KEYCLOAK_URL")}`);
    expect(run.stdout).toContain(`kubernetes-mcp-server: running, http://127.0.0.1:${recorded("MCP_PORT")}/mcp`);
    expect(run.stdout).toContain('"keycloakClientId": "mcp-test/kubernetes-mcp"');
  });

  it("a second up reuses the API server and Keycloak (never two) and changes nothing", () => {
    const before = ours().length;
    const run = sandbox("up");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("Keycloak reused");
    expect(run.stdout).toContain("API server reused");
    // Nothing created, replaced or deleted (the Gateway listener patch always shows as an update: README, Known gaps).
    expect(run.stdout).toMatch(/pulumi up done: (1 updated,)?\d+ unchanged \(/);
    expect(processesWith("kube-apiserver", recorded("APISERVER_DIR"))).toHaveLength(1);
    expect(ours().length).toBe(before);
  });

  it("down destroys the stack and stops everything; a second down is harmless", () => {
    const run = sandbox("down");
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain("pulumi destroy done");
    expect(ours()).toEqual([]);
    expect(ports.filter((p) => portAnswers(p))).toEqual([]);
    const again = sandbox("down");
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("sandbox: nothing to stop");
  });
});
