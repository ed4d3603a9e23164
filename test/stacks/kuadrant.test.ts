import { describe, expect, it } from "vitest";
import { RELEASE_FACTS } from "../../components/gatewayRelease";
import { GUIDE_TOOLS } from "../../components/tools";
import { OIDC_PASSWORD, oidcValues, runStack, type StackRun } from "../support/pulumiHarness";

// gateway.release kuadrant-v0.9.0: Kuadrant's MCP Gateway v0.9.0 (tag kuadrant-v0.9.0 of the
// gateway repository). Facts from its tree: MCPServerRegistration (mcp.kuadrant.io/v1, `prefix`),
// the server named after the registration, `tool:` roles in a realm import that already holds the
// client, roles and group, and the token exchange set up by `make auth-example-setup`.
const KUADRANT = { gateway: { release: "kuadrant-v0.9.0" } };
const planOf = (run: StackRun) => run.resources.map((r) => `${r.type} ${r.name}`).sort();
const SERVER_ID = "mcp-test/kubernetes-mcp-server";

describe("gateway.release kuadrant-v0.9.0, use case 1", async () => {
  const kagenti = await runStack({});
  const run = await runStack(KUADRANT);

  it("differs from the kagenti plan only by the registration's type", () => {
    const swap = (p: string) =>
      p.replace("mcp.kagenti.com/v1alpha1:MCPServer ", "mcp.kuadrant.io/v1:MCPServerRegistration ");
    expect(planOf(run)).toEqual(planOf(kagenti).map(swap).sort());
  });

  it("registers with MCPServerRegistration: `prefix`, the route in its own namespace, and replace on a prefix change", () => {
    const registration = run.byName("kubernetes-mcp-mcp-server");
    expect(registration.inputs).toMatchObject({
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPServerRegistration",
      metadata: { name: "kubernetes-mcp-server", namespace: "mcp-test" },
      spec: {
        prefix: "kube_",
        targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "kubernetes-mcp" },
      },
    });
    expect(registration.inputs.spec.toolPrefix).toBeUndefined();
    expect(registration.options).toMatchObject({ replaceOnChanges: ["spec.prefix"], deleteBeforeReplace: true });
  });

  it("uses one DNS name for the listener, the route, the ExternalName Service and the ServiceEntry", () => {
    const hosts = [
      run.byName("kubernetes-mcp-patch").inputs.spec.listeners[0].hostname,
      ...run.byName("kubernetes-mcp-route").inputs.spec.hostnames,
      run.byName("kubernetes-mcp-external").inputs.spec.externalName,
      ...run.byName("kubernetes-mcp-service-entry").inputs.spec.hosts,
    ];
    expect(new Set(hosts)).toEqual(new Set(["host.containers.internal"]));
  });

  it("clones Kuadrant's repository at v0.9.0 by default", () => {
    expect(run.byName("mcp-gateway-checkout-git").inputs.environment).toMatchObject({
      GATEWAY_REPO: RELEASE_FACTS["kuadrant-v0.9.0"].repoUrl,
      GATEWAY_REF: "c18d2db78e2814bb13dd7318a52be4076f6327a6",
    });
  });
});

describe("gateway.release kuadrant-v0.9.0, use case 2", async () => {
  const run = await runStack(oidcValues(KUADRANT));

  it("adopts the realm import's client, `tool:` roles and group (reference by default) and writes nothing to Keycloak", () => {
    expect(
      run.resources.filter((r) => r.type.startsWith("keycloak:") && r.type !== "pulumi:providers:keycloak"),
    ).toEqual([]);
    const client = run.invokes.find((i) => i.token === "keycloak:openid/getClient:getClient");
    expect(client?.inputs).toMatchObject({ realmId: "mcp", clientId: SERVER_ID });
    const roles = run.invokes.filter((i) => i.token === "keycloak:index/getRole:getRole").map((i) => i.inputs.name);
    expect(roles.sort()).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
  });

  it("checks the tool role with the `tool:` prefix, exactly as the v0.9.0 sample tools-call-auth.yaml does", () => {
    const rules = run.byName("kubernetes-mcp-auth-policy").inputs.spec.rules;
    // config/samples/oauth-token-exchange/tools-call-auth.yaml at kuadrant-v0.9.0, tool-access-check.
    expect(rules.authorization["tool-access-check"].patternMatching.patterns[0].predicate).toBe(
      "('tool:' + request.headers['x-mcp-toolname']) in (has(auth.authorization.token.claims.resource_access) && auth.authorization.token.claims.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? auth.authorization.token.claims.resource_access[request.headers['x-mcp-servername']].roles : [])",
    );
  });

  it("sets up the token exchange with v0.9.0's make target", () => {
    expect(run.byName("oauth-token-exchange-setup").inputs.create).toContain("make tools auth-example-setup");
  });

  it("creates the client when told to (a realm without it), named after the registration, roles `tool:<name>`", async () => {
    const created = await runStack(
      oidcValues({ ...KUADRANT, keycloak: { adminPassword: OIDC_PASSWORD, existingObjects: "create" } }),
    );
    expect(
      created
        .ofType("keycloak:index/role:Role")
        .map((r) => r.inputs.name)
        .sort(),
    ).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
    expect(created.byName("kubernetes-mcp-access-client").inputs.clientId).toBe(SERVER_ID);
  });
});

describe("gateway.release config", () => {
  it("refuses a prefix the v0.9.0 CRD's pattern does not allow, naming the key, the value and the pattern", async () => {
    await expect(runStack({ ...KUADRANT, mcpServer: { toolPrefix: "Kube-" } })).rejects.toThrow(
      "mcp-gateway-stack:mcpServer.toolPrefix = 'Kube-': expected a prefix matching ^[a-z0-9][a-z0-9_]*$ (gateway.release kuadrant-v0.9.0's MCPServerRegistration)",
    );
  });

  it("refuses an unknown release, listing the known ones", async () => {
    await expect(runStack({ gateway: { release: "v0.9.0" } })).rejects.toThrow(
      "mcp-gateway-stack:gateway.release = 'v0.9.0': expected one of kagenti, kuadrant-v0.9.0",
    );
  });
});
