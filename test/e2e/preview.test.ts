import { describe, expect, it } from "vitest";
import { scratchStack, stepCounter } from "../../testbed/engine/engine";
import { KIND_NO_AUTH_PLAN, OIDC_RESOURCES } from "../../testbed/engine/plans";

// `pulumi preview` of the dev stack as shipped (kind mode, the guide's values) by the real engine
// and the real command, kubernetes and keycloak plugins, with nothing reachable: no cluster, no
// Keycloak, no make. Nothing runs in a preview; it is what a pull request shows.
describe("pulumi preview of the dev stack, offline, with every real plugin", () => {
  it("use case 1: the checkout, the Kind cluster, the MCP server process and the registration", async () => {
    const { stack } = await scratchStack();
    const creates = stepCounter("create");
    const result = await stack.preview({ onEvent: creates.onEvent, diff: true });
    expect(creates.counts).toEqual(KIND_NO_AUTH_PLAN);
    // The diff a pull request shows: the guide's values.
    expect(result.stdout).toContain('toolPrefix: "kube_"');
    expect(result.stdout).toContain('externalName: "host.containers.internal"');
    // The scripts' first lines say which make target runs (the diff shows a script's first lines).
    expect(result.stdout).toMatch(
      /create\s+: "# make local-env-setup, unless a Kind cluster of that name exists \(refused\)/,
    );
    expect(result.stdout).toMatch(/delete\s+: "# make local-env-teardown, of a cluster this stack created/);
    expect(result.stdout).not.toContain("keycloakClientId");
  });

  it("use case 2: adds the token-exchange setup, the Keycloak objects, the AuthPolicy and the binding", async () => {
    const { stack } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "preview-admin-password", secret: true }, true);
    const creates = stepCounter("create");
    const result = await stack.preview({ onEvent: creates.onEvent, diff: true });
    // The checkout is in the kind plan already: oidc adds the token-exchange step's and the client secret's commands.
    expect(creates.counts).toEqual({ ...KIND_NO_AUTH_PLAN, ...OIDC_RESOURCES, "command:local:Command": 6 });
    expect(result.stdout).toContain("keycloakClientId");
    expect(result.stdout).toMatch(/name\s+: "https:\/\/keycloak\.127-0-0-1\.sslip\.io:8002\/realms\/mcp#mcp"/);
    expect(result.stdout).not.toContain("preview-admin-password");
  });
});
