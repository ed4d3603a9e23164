import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scratchStack, unreachableKubeconfig, useKubernetesOnlyGraph, type Scratch } from "./engine";

// A real `up`, a second `up`, and `destroy` of the part of the graph that needs no cluster: the
// Kubernetes provider, whose kubeconfig (a secret) the engine writes to state.
const KUBE_TOKEN = "e2e-kube-token-91bc";
const PASSWORD = "e2e-admin-password-7f3a";
const urn = (type: string, name: string) => `urn:pulumi:dev::mcp-gateway-stack::${type}::${name}`;
const TARGETS = [
  urn("mcp-gateway-stack:cluster:KindCluster", "cluster"),
  urn("mcp-gateway-stack:cluster:KindCluster$pulumi:providers:kubernetes", "cluster-provider"),
];

function stateFiles(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8"))
    .join("\n");
}

describe("up, up again and destroy with the real engine", () => {
  let s: Scratch;
  // Something listening where the kubeconfig points, so the preflight finds an "API server"; the
  // provider itself never needs to talk to it for these targets.
  const listener = net.createServer((socket) => socket.destroy());
  let server = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    server = `https://127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
  });
  afterAll(() => listener.close());

  it("stops before touching anything when the cluster is unreachable", async () => {
    const scratch = await scratchStack();
    await useKubernetesOnlyGraph(scratch.stack, unreachableKubeconfig(KUBE_TOKEN));
    const error = await scratch.stack.up({ target: TARGETS }).then(
      () => new Error("up succeeded"),
      (e: Error) => e,
    );
    expect(error.message).toContain(
      "mcp-gateway-stack:cluster.kubeconfig = (secret): its API server https://127.0.0.1:1 is not reachable",
    );
    expect(error.message).not.toContain(KUBE_TOKEN);
    const resources: Array<{ type: string }> = (await scratch.stack.exportStack()).deployment.resources ?? [];
    expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("creates the provider from the secret kubeconfig", async () => {
    s = await scratchStack();
    await useKubernetesOnlyGraph(s.stack, unreachableKubeconfig(KUBE_TOKEN, server));
    // Set although unused in no-auth: the stack file must still hold it only encrypted.
    await s.stack.setConfig("keycloak.adminPassword", { value: PASSWORD, secret: true }, true);
    const result = await s.stack.up({ target: TARGETS });
    expect(result.summary.result).toBe("succeeded");
    // Untargeted resources count as `same`: 7 of the 10 this graph declares.
    expect(result.summary.resourceChanges).toEqual({ create: 3, same: 7 });
  });

  it("holds the kubeconfig and the admin password only encrypted, in state and in the stack file", async () => {
    // The CLI's own export (the Automation API's exportStack shows secrets decrypted).
    const exported = execFileSync("pulumi", ["stack", "export", "--stack", "dev"], {
      cwd: s.dir,
      env: { ...process.env, ...s.env },
    }).toString();
    expect(exported).toContain("cluster-provider");
    expect(exported).toContain("ciphertext");
    expect(stateFiles(s.stateDir)).toContain("ciphertext");
    for (const text of [
      exported,
      stateFiles(s.stateDir),
      fs.readFileSync(path.join(s.dir, "Pulumi.dev.yaml"), "utf8"),
    ]) {
      expect(text).not.toContain(KUBE_TOKEN);
      expect(text).not.toContain(PASSWORD);
    }
  });

  it("changes nothing on a second preview and up", async () => {
    await s.stack.preview({ target: TARGETS, expectNoChanges: true });
    const result = await s.stack.up({ target: TARGETS });
    expect(result.summary.resourceChanges).toEqual({ same: 10 });
  });

  it("leaves an empty state after destroy", async () => {
    const result = await s.stack.destroy();
    expect(result.summary.resourceChanges).toEqual({ delete: 3 });
    expect((await s.stack.exportStack()).deployment.resources ?? []).toEqual([]);
  });
});
