import { describe, expect, it } from "vitest";
import { startApiServer } from "../../testbed/apiserver/apiServer";
import { scratchStack, unreachableKubeconfig } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

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

describe("pulumi up onto a cluster that already has an object of the stack's names", () => {
  it("refuses the user's own HTTPRoute (destroy would delete it) before touching anything; a Pulumi run takes over only its own", async () => {
    const apiServer = startApiServer();
    const s = await scratchStack("dev", standIns().env);
    try {
      await useTestBed(s.stack, { apiServer, tag: "guide-397bf8d", port: freePort() });
      const route = {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "kubernetes-mcp", namespace: "mcp-test", labels: { owner: "the-user" } },
        spec: { hostnames: ["users-own.example.test"] },
      };
      const routes = "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes";
      const made = await apiServer.kube.request("POST", `${routes}?fieldManager=kubectl-create`, route);
      expect(made.status, made.text).toBe(201);
      const error = await s.stack.up().then(
        () => new Error("up succeeded"),
        (e: Error) => e,
      );
      expect(error.message).toContain(
        "mcp-gateway-stack:mcpServer.routeName = 'kubernetes-mcp': HTTPRoute mcp-test/kubernetes-mcp already exists on the cluster and no Pulumi program applied it (its field managers: kubectl-create)",
      );
      const resources: Array<{ type: string }> = (await s.stack.exportStack()).deployment.resources ?? [];
      expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
      const kept = (await apiServer.kube.get(`${routes}/kubernetes-mcp`)).json;
      expect(kept.spec.hostnames).toEqual(["users-own.example.test"]);
      // Once the user's route is gone the same stack goes up, and a second run accepts its own objects.
      expect((await apiServer.kube.request("DELETE", `${routes}/kubernetes-mcp`)).status).toBe(200);
      expect((await s.stack.up()).summary.result).toBe("succeeded");
      expect((await s.stack.up()).summary.result).toBe("succeeded");
    } finally {
      await tearDownStack(s);
      apiServer.stop();
    }
  });
});
