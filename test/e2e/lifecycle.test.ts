import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scratchStack, stepCounter, type Scratch } from "./engine";

// A real `pulumi up`, second `up`, and `destroy` of the part of the graph that needs neither a
// cluster nor Keycloak: both providers (their secret inputs land in state) and the
// kubernetes-mcp-server host process (really started, really stopped).
const PASSWORD = "e2e-admin-password-7f3a";
const KUBE_TOKEN = "e2e-kube-token-91bc";
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- {name: e2e, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}
contexts:
- {name: e2e, context: {cluster: e2e, user: e2e}}
current-context: e2e
users:
- {name: e2e, user: {token: ${KUBE_TOKEN}}}
`;
const PORT = 30000 + (process.pid % 20000);
const PROJECT = "mcp-gateway-stack";
const urn = (type: string, name: string) => `urn:pulumi:dev::${PROJECT}::${type}::${name}`;
const TARGETS = [
  urn("pulumi:providers:keycloak", "keycloak"),
  urn("mcp-gateway-stack:cluster:KindCluster", "cluster"),
  urn("mcp-gateway-stack:cluster:KindCluster$pulumi:providers:kubernetes", "cluster-provider"),
  urn("mcp-gateway-stack:mcp:LocalMcpServer", "kubernetes-mcp-server"),
  urn("mcp-gateway-stack:mcp:LocalMcpServer$command:local:Command", "kubernetes-mcp-server-process"),
];
const healthy = () =>
  fetch(`http://127.0.0.1:${PORT}/healthz`).then(
    (r) => r.ok,
    () => false,
  );

describe("up, up again and destroy with the real engine", () => {
  let s: Scratch;
  afterAll(async () => {
    await s?.stack.destroy().catch(() => undefined);
  });

  it("creates the providers and starts the MCP server process", async () => {
    s = await scratchStack();
    await s.stack.setConfig("useCase", { value: "oidc" });
    await s.stack.setConfig("keycloak.adminPassword", { value: PASSWORD, secret: true }, true);
    await s.stack.setConfig("cluster.mode", { value: "existing" }, true);
    await s.stack.setConfig("cluster.kubeconfig", { value: KUBECONFIG, secret: true }, true);
    await s.stack.setConfig("mcpServer.port", { value: String(PORT) }, true);
    const result = await s.stack.up({ target: TARGETS });
    expect(result.summary.result).toBe("succeeded");
    expect(result.summary.resourceChanges?.create).toBe(TARGETS.length);
    expect(await healthy()).toBe(true);
  });

  it("records the admin password and the kubeconfig in state only encrypted", async () => {
    const exported = JSON.stringify(await s.stack.exportStack());
    const onDisk = fs
      .readdirSync(s.stateDir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8"))
      .join("\n");
    for (const text of [exported, onDisk]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(KUBE_TOKEN);
    }
    expect(exported).toContain("ciphertext");
    const stackFile = fs.readFileSync(path.join(s.dir, "Pulumi.dev.yaml"), "utf8");
    expect(stackFile).not.toContain(PASSWORD);
    expect(stackFile).not.toContain(KUBE_TOKEN);
  });

  it("changes nothing on a second preview and up", async () => {
    await s.stack.preview({ target: TARGETS, expectNoChanges: true });
    const same = stepCounter("same");
    const result = await s.stack.up({ target: TARGETS, onEvent: same.onEvent });
    expect(result.summary.resourceChanges).toEqual({ same: TARGETS.length + 1 });
    expect(await healthy()).toBe(true);
  });

  it("stops the process and leaves an empty state on destroy", async () => {
    const result = await s.stack.destroy();
    expect(result.summary.resourceChanges?.delete).toBe(TARGETS.length + 1);
    expect(await healthy()).toBe(false);
    const state = (await s.stack.exportStack()).deployment;
    expect(state.resources ?? []).toEqual([]);
  });
});
