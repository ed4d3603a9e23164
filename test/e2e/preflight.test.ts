import { describe, expect, it } from "vitest";
import { scratchStack, unreachableKubeconfig } from "./engine";

// The preflight on `up` with the real engine: a cluster nobody answers for stops the run before
// any resource is touched, naming the key, the API server and what to do, never the token.
const KUBE_TOKEN = "e2e-kube-token-91bc";

describe("pulumi up against an unreachable cluster", () => {
  it("stops before touching anything, with a message that names the key but not the secret", async () => {
    const { stack } = await scratchStack();
    await stack.setAllConfig(
      {
        "cluster.mode": { value: "existing" },
        "cluster.kubeconfig": { value: unreachableKubeconfig(KUBE_TOKEN), secret: true },
      },
      true,
    );
    const error = await stack.up().then(
      () => new Error("up succeeded"),
      (e: Error) => e,
    );
    expect(error.message).toContain(
      "mcp-gateway-stack:cluster.kubeconfig = (secret): its API server https://127.0.0.1:1 is not reachable",
    );
    expect(error.message).not.toContain(KUBE_TOKEN);
    const resources: Array<{ type: string }> = (await stack.exportStack()).deployment.resources ?? [];
    expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
