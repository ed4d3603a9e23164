import { describe, expect, it } from "vitest";
import { domainChainMetadata } from "../../components/domainChain";
import { GUIDE_TOOLS } from "../../components/tools";
import { crossDomainValues, DOMAIN_B, runStack, type StackRun } from "../support/pulumiHarness";

// Use case 3 with gateway.release kuadrant-v0.9.0 and one further cluster, b: what differs from
// kagenti's use case 3 (test/stacks/crossDomain.test.ts). v0.9.0 names a server after its
// registration, registers with MCPServerRegistration, prefixes roles with `tool:`, and its realm
// import already holds realm mcp's client, roles and group (existingObjects `reference`); realm
// cluster-b holds nothing of the stack's, so b's objects are created there.
const KUADRANT = { gateway: { release: "kuadrant-v0.9.0" } };
const planOf = (run: StackRun) => run.resources.map((r) => `${r.type} ${r.name}`).sort();

const KC = "https://keycloak.127-0-0-1.sslip.io:8002";
const GATEWAY_ISSUER = `${KC}/realms/mcp`;
const B_ISSUER = `${KC}/realms/cluster-b`;
const SERVER_A = "mcp-test/kubernetes-mcp-server";
const SERVER_B = "mcp-test/kubernetes-mcp-server-b";
const KAGENTI_REGISTRATION = "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer";
const KUADRANT_REGISTRATION = "kubernetes:mcp.kuadrant.io/v1:MCPServerRegistration";

describe("use case 3 with gateway.release kuadrant-v0.9.0 and one more cluster, b", async () => {
  const run = await runStack({ ...crossDomainValues([DOMAIN_B]), ...KUADRANT });
  const kagenti = await runStack(crossDomainValues());
  const urn = (name: string) => run.byName(name).urn;

  it("adopts realm mcp's objects by default and creates b's in realm cluster-b", () => {
    expect(run.config.useCase === "cross-domain" && run.config.keycloak.existingObjects).toBe("reference");
    // kagenti's plan with both registrations of v0.9.0's kind, less the gateway server's created
    // Keycloak objects: v0.9.0's realm import holds them.
    const adopted = /^keycloak:\S+ kubernetes-mcp-access-/;
    expect(planOf(run)).toEqual(
      planOf(kagenti)
        .filter((r) => !adopted.test(r))
        .map((r) => r.replace(`${KAGENTI_REGISTRATION} `, `${KUADRANT_REGISTRATION} `))
        .sort(),
    );
    expect(
      run
        .ofType(KUADRANT_REGISTRATION)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["kubernetes-mcp-b-mcp-server", "kubernetes-mcp-mcp-server"]);
    // The stack writes to realm mcp only what the chain needs there (the audience client, its role
    // and its mapping to the group, the sub mapper), never the realm import's client, roles or group.
    const inRealmMcp = run.resources
      .filter((r) => r.type.startsWith("keycloak:") && (r.inputs.realmId ?? r.inputs.realm) === "mcp")
      .map((r) => r.name)
      .sort();
    expect(inRealmMcp).toEqual([
      "domain-b-trust-audience",
      "domain-b-trust-audience-group-role",
      "domain-b-trust-audience-role",
      "gateway-subject-mapper",
    ]);
  });

  it("names each server after its registration: the gateway's client looked up in realm mcp, b's created in realm cluster-b", () => {
    const lookups = run.invokes.filter((i) => i.token === "keycloak:openid/getClient:getClient").map((i) => i.inputs);
    expect(lookups).toContainEqual({ realmId: "mcp", clientId: SERVER_A });
    expect(lookups.map((l) => l.clientId)).not.toContain(SERVER_B);
    expect(run.byName("kubernetes-mcp-b-access-client").inputs).toMatchObject({
      realmId: "cluster-b",
      clientId: SERVER_B,
    });
    expect(run.outputs.keycloakClientId).toBeDefined();
  });

  it("gives both servers' clients the `tool:` roles: looked up in realm mcp, created in realm cluster-b", () => {
    const looked = run.invokes.filter((i) => i.token === "keycloak:index/getRole:getRole").map((i) => i.inputs);
    expect(looked.map((r) => r.realmId)).toEqual(GUIDE_TOOLS.map(() => "mcp"));
    expect(looked.map((r) => r.name).sort()).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
    const created = run.ofType("keycloak:index/role:Role").filter((r) => r.inputs.realmId === "cluster-b");
    expect(created.map((r) => r.inputs.name).sort()).toEqual(GUIDE_TOOLS.map((t) => `tool:${t}`).sort());
    expect(run.byName("kubernetes-mcp-b-access-members").inputs).toMatchObject({
      realmId: "cluster-b",
      members: ["mcp"],
    });
  });

  it("lets realm mcp's adopted group (not a created one) exchange for realm cluster-b's issuer", () => {
    const groups = run.invokes.filter((i) => i.token === "keycloak:index/getGroup:getGroup").map((i) => i.inputs);
    expect(groups).toEqual([{ realmId: "mcp", name: "engineering" }]);
    expect(run.byName("domain-b-trust-audience-group-role").inputs).toMatchObject({
      realmId: "mcp",
      groupId: "existing-group-id",
      exhaustive: false,
    });
    expect(run.byName("domain-b-trust-audience").inputs).toMatchObject({ realmId: "mcp", clientId: B_ISSUER });
  });

  it("registers b's server with MCPServerRegistration: `prefix` kube_b_, b's route in the registration's namespace", () => {
    const registration = run.byName("kubernetes-mcp-b-mcp-server");
    expect(registration.inputs).toEqual({
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPServerRegistration",
      metadata: { name: "kubernetes-mcp-server-b", namespace: "mcp-test" },
      spec: {
        prefix: "kube_b_",
        targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "kubernetes-mcp-b" },
      },
    });
    expect(registration.options).toMatchObject({ replaceOnChanges: ["spec.prefix"], deleteBeforeReplace: true });
    expect(run.byName("kubernetes-mcp-b-route").inputs.spec.hostnames).toEqual([DOMAIN_B.host]);
  });

  it("chains b's AuthPolicy in three steps with v0.9.0's `token-exchange` Secret, the audience from x-mcp-servername", () => {
    const policy = run.byName("kubernetes-mcp-b-auth-policy").inputs;
    const metadata = policy.spec.rules.metadata;
    expect(metadata).toEqual(
      domainChainMetadata({
        gatewayIssuerUrl: GATEWAY_ISSUER,
        domainIssuerUrl: B_ISSUER,
        gatewayClientSecret: "token-exchange",
        domainClientSecret: "kubernetes-mcp-b-grant",
      }),
    );
    // Three steps, run in this order (priority).
    expect(Object.fromEntries(Object.entries(metadata).map(([k, m]: [string, any]) => [k, m.priority]))).toEqual({
      "gateway-domain-exchange": 0,
      "domain-grant": 1,
      "oauth-token-exchange": 2,
    });
    expect(metadata["gateway-domain-exchange"].http.sharedSecretRef).toEqual({
      name: "token-exchange",
      key: "oauth-client-basic-auth",
    });
    // The router sends the registration's `<namespace>/<name>` there: the audience of b's client.
    expect(metadata["oauth-token-exchange"].http.bodyParameters.audience).toEqual({
      expression: "request.headers['x-mcp-servername']",
    });
    // The tool check adds v0.9.0's `tool:` prefix, as on the gateway's own policy.
    const check = policy.spec.rules.authorization["tool-access-check"].patternMatching.patterns[0].predicate;
    expect(check).toMatch(/^\('tool:' \+ request\.headers\['x-mcp-toolname'\]\) in /);
    expect(policy.spec.rules.authorization).toEqual(
      run.byName("kubernetes-mcp-auth-policy").inputs.spec.rules.authorization,
    );
    expect(run.byName("kubernetes-mcp-b-auth-policy").dependencies).toContain(urn("domain-b-trust-grant-secret"));
  });

  it("sets up the token exchange once, with v0.9.0's make target", () => {
    const setups = run.resources.filter(
      (r) => r.type === "command:local:Command" && /make tools/.test(r.inputs.create),
    );
    expect(setups.map((r) => r.name)).toEqual(["oauth-token-exchange-setup"]);
    expect(run.byName("oauth-token-exchange-setup").inputs.create).toContain("make tools auth-example-setup");
    expect(run.byName("oauth-token-exchange-setup").inputs.create).not.toContain("oauth-token-exchange-example-setup");
  });

  it("binds <realm cluster-b issuer>#mcp on cluster b", () => {
    expect(run.byName("oidc-user-b-binding").inputs.subjects).toEqual([
      { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${B_ISSUER}#mcp` },
    ]);
  });
});
