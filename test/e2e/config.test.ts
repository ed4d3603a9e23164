import { describe, expect, it } from "vitest";
import { scratchStack } from "../../testbed/engine/engine";

// Bad config reaches the user through the real CLI with the same message as in the unit tests,
// and no resource is touched: the preview stops before planning anything.
describe("bad config through the real CLI", () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    [
      "an unknown use case",
      { useCase: "federated" },
      "mcp-gateway-stack:useCase = 'federated': expected one of no-auth, oidc, cross-domain",
    ],
    [
      "a port out of range",
      { "mcpServer.port": "70000" },
      "mcp-gateway-stack:mcpServer.port = 70000: expected an integer port from 1 to 65535",
    ],
    [
      "a host that is not a DNS name",
      { "mcpServer.host": "Not_A_Host" },
      "mcp-gateway-stack:mcpServer.host = 'Not_A_Host': expected a DNS name",
    ],
    [
      "an unknown tool name",
      { useCase: "oidc", "keycloak.adminPassword": "pw", "mcpServer.tools[0]": "pods_explode" },
      "mcp-gateway-stack:mcpServer.tools = 'pods_explode': expected tool names from:",
    ],
    [
      "the admin password missing for oidc",
      { useCase: "oidc" },
      "mcp-gateway-stack:keycloak.adminPassword = undefined: expected the Keycloak admin password",
    ],
    [
      "no kubeconfig for an existing cluster",
      { "cluster.mode": "existing" },
      "mcp-gateway-stack:cluster.kubeconfig = undefined: expected a kubeconfig",
    ],
  ];

  for (const [what, config, message] of cases) {
    it(`stops on ${what} with the key, the value and what is allowed`, async () => {
      const { stack } = await scratchStack();
      for (const [key, value] of Object.entries(config)) {
        await stack.setConfig(key, { value, secret: key.endsWith("adminPassword") }, key.includes("."));
      }
      const error = await stack.preview().then(
        () => new Error("preview succeeded"),
        (e: Error) => e,
      );
      expect(error.message).toContain(message);
      expect(error.message).not.toMatch(/at parseStackConfig|\.ts:\d+/); // the message, not a stack trace
    });
  }

  it("refuses an admin password set without --secret, never printing it", async () => {
    const { stack } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "pw-in-clear" }, true);
    const error = await stack.preview().then(
      () => new Error("preview succeeded"),
      (e: Error) => e,
    );
    expect(error.message).toContain(
      "mcp-gateway-stack:keycloak.adminPassword = (value not shown): expected a secret, not a value in clear in Pulumi.<stack>.yaml: pulumi config set --secret --path keycloak.adminPassword <password>",
    );
    expect(error.message).not.toContain("pw-in-clear");
  });

  it("never prints a value set with --secret, and refuses one the stack cannot keep secret", async () => {
    const { stack } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "pw", secret: true }, true);
    await stack.setConfig("keycloak.url", { value: "https://kc-in-clear.example/x", secret: true }, true);
    await stack.setConfig("mcpServer.host", { value: "Host_In_Clear", secret: true }, true);
    const error = await stack.preview().then(
      () => new Error("preview succeeded"),
      (e: Error) => e,
    );
    expect(error.message).not.toMatch(/in-clear|In_Clear/i);
    expect(error.message).toContain("mcp-gateway-stack:keycloak.url = (value not shown): expected an https URL");
    expect(error.message).toContain("mcp-gateway-stack:mcpServer.host = (value not shown): expected a DNS name");
    expect(error.message).toContain("mcp-gateway-stack:mcpServer = (value not shown): expected no secret here");
  });
});
