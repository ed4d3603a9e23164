import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { FAKE_KUBECONFIG, OIDC_PASSWORD, oidcValues, plaintextPaths, runStack } from "../support/pulumiHarness";

const EXISTING_KUBECONFIG =
  "apiVersion: v1\nkind: Config\ncontexts:\n- name: c\n  context: {cluster: c, user: admin}\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: 'https://10.0.0.1:6443'}\nusers:\n- name: admin\n  user:\n    token: existing-cluster-token\n";

describe("secrets stay secret", async () => {
  const kind = await runStack(oidcValues());
  const existing = await runStack(oidcValues({ cluster: { mode: "existing", kubeconfig: EXISTING_KUBECONFIG } }));

  const cases: Array<[string, typeof kind, string]> = [
    ["the admin password", kind, OIDC_PASSWORD],
    ["the Kind kubeconfig", kind, FAKE_KUBECONFIG],
    ["an existing cluster's kubeconfig", existing, EXISTING_KUBECONFIG],
  ];

  for (const [what, run, secret] of cases) {
    it(`${what} reaches no resource input in clear`, () => {
      const leaks = run.resources.flatMap((r) => plaintextPaths(r.wire, secret.trim()).map((p) => `${r.name} ${p}`));
      expect(leaks).toEqual([]);
    });

    it(`${what} is in no stack output`, () => {
      expect(JSON.stringify(run.outputs)).not.toContain(secret.trim());
    });
  }

  it("hands the password to the Keycloak provider as a secret", () => {
    expect(kind.byName("keycloak").inputs.password).toBe(OIDC_PASSWORD);
    expect(plaintextPaths(kind.byName("keycloak").wire, OIDC_PASSWORD)).toEqual([]);
  });

  it("hands the kubeconfig to the provider and the setup step only as secrets", () => {
    for (const name of ["cluster-provider", "oauth-token-exchange-setup"]) {
      expect(JSON.stringify(kind.byName(name).inputs), name).toContain("client-key-data");
      expect(plaintextPaths(kind.byName(name).wire, "client-key-data"), name).toEqual([]);
    }
  });

  it("hands the MCP server its credential-free kubeconfig as a secret too (it still names the cluster)", () => {
    const server = kind.byName("kubernetes-mcp-server-process");
    expect(server.inputs.environment.MCP_KUBECONFIG).toContain("name: kind");
    expect(plaintextPaths(server.wire, "name: kind")).toEqual([]);
  });

  it("keeps the kubeconfig the Kind step prints out of the logs and marks it secret", () => {
    const step = kind.byName("cluster-kubeconfig");
    expect(step.inputs.logging).toBe("stderr");
    expect(step.options.additionalSecretOutputs).toEqual(["stdout"]);
  });

  it("exposes the cluster's kubeconfig only as a secret Output", async () => {
    const { parseStackConfig } = await import("../../stacks/config");
    const cfg = parseStackConfig({
      values: { cluster: { mode: "existing", kubeconfig: EXISTING_KUBECONFIG } },
      secretKeys: ["cluster"],
    });
    expect(await pulumi.isSecret(cfg.cluster.kubeconfig!)).toBe(true);
  });
});
