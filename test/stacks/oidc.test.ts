import { describe, expect, it } from "vitest";
import { guideKeycloak, guideManifests, trimStrings } from "../support/guide";
import { parse } from "yaml";
import {
  TWO_CONTEXTS,
  writeTemp,
  FAKE_CLIENT_SECRET,
  FAKE_KUBECONFIG,
  OIDC_PASSWORD,
  oidcValues,
  plaintextPaths,
  providerUrn,
  runStack,
  type StackRun,
} from "../support/pulumiHarness";
import { regenerateSecretScript, tokenExchangeSecretData } from "../../components/gatewayClientSecret";

const KEYCLOAK_PROVIDER = "pulumi:providers:keycloak";
const planOf = (run: StackRun) => run.resources.map((r) => `${r.type} ${r.name}`).sort();

/** The resources use case 2 adds to use case 1. */
const OIDC_ONLY = [
  "command:local:Command mcp-gateway-client-secret-regenerate",
  "command:local:Command oauth-token-exchange-setup",
  "keycloak:index/group:Group kubernetes-mcp-access-group",
  "keycloak:index/groupMemberships:GroupMemberships kubernetes-mcp-access-members",
  "keycloak:index/groupRoles:GroupRoles kubernetes-mcp-access-group-roles",
  "keycloak:openid/client:Client kubernetes-mcp-access-client",
  ...guideKeycloak.roles.map((r) => `keycloak:index/role:Role kubernetes-mcp-access-role-${r}`),
  "kubernetes:core/v1:SecretPatch mcp-gateway-client-secret-token-exchange",
  "kubernetes:kuadrant.io/v1:AuthPolicy kubernetes-mcp-auth-policy",
  "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding oidc-user-binding",
  "mcp-gateway-stack:auth:OidcClusterAccess oidc-user",
  "mcp-gateway-stack:auth:ToolAuthPolicy kubernetes-mcp-auth",
  "mcp-gateway-stack:gateway:TokenExchangeSetup oauth-token-exchange",
  "mcp-gateway-stack:keycloak:GatewayClientSecret mcp-gateway-client-secret",
  "mcp-gateway-stack:keycloak:ToolAccess kubernetes-mcp-access",
  `${KEYCLOAK_PROVIDER} keycloak`,
].sort();

describe("use case 2 (oidc) with only useCase and the admin password set", async () => {
  const run = await runStack(oidcValues());
  const noAuth = await runStack({});
  const urn = (name: string) => run.byName(name).urn;

  it("adds exactly the OIDC resources to use case 1", () => {
    const added = planOf(run).filter((r) => !planOf(noAuth).includes(r));
    expect(added).toEqual(OIDC_ONLY);
    expect(planOf(noAuth).filter((r) => !planOf(run).includes(r))).toEqual([]);
  });

  it("leaves every use-case-1 resource's inputs unchanged when the use case switches, but the server's credentials and disabled tools", () => {
    for (const before of noAuth.resources.filter((r) => r.name !== "kubernetes-mcp-server-process")) {
      expect(run.byName(before.name).inputs, before.name).toEqual(before.inputs);
    }
    const [server, serverBefore] = [run, noAuth].map((r) => r.byName("kubernetes-mcp-server-process").inputs);
    const unchanged = { MCP_KUBECONFIG: "", MCP_DISABLED_TOOLS: "" };
    expect({ ...server.environment, ...unchanged }).toEqual({ ...serverBefore.environment, ...unchanged });
    expect(serverBefore.environment.MCP_KUBECONFIG).toBe(FAKE_KUBECONFIG);
    // With a token per call configuration_view shows only the credential-free kubeconfig.
    expect([serverBefore.environment.MCP_DISABLED_TOOLS, server.environment.MCP_DISABLED_TOOLS]).toEqual([
      "configuration_view",
      "",
    ]);
  });

  it("gives the MCP server a kubeconfig without credentials: every call must bring the user's token", () => {
    const env = run.byName("kubernetes-mcp-server-process").inputs.environment;
    expect(parse(env.MCP_KUBECONFIG)).toEqual({ ...parse(FAKE_KUBECONFIG), users: [{ name: "kind", user: {} }] });
    expect(env.MCP_KUBECONFIG).not.toContain("client-key-data");
  });

  it("runs the token-exchange example setup in the checkout, after the cluster, against its kubeconfig", () => {
    const setup = run.byName("oauth-token-exchange-setup");
    expect(setup.inputs.create).toContain("make tools oauth-token-exchange-example-setup");
    expect(setup.propertyDependencies.dir).toEqual([urn("mcp-gateway-checkout-git")]);
    expect(setup.propertyDependencies.environment).toEqual([urn("cluster-kubeconfig")]);
    expect(setup.dependencies).toContain(urn("cluster-local-env"));
  });

  it("declares the guide's AuthPolicy (resource_metadata on the gateway's port 8001) after the setup that creates its Secret", () => {
    const policy = run.byName("kubernetes-mcp-auth-policy");
    expect(policy.inputs.apiVersion).toBe(guideManifests.AuthPolicy.apiVersion);
    expect(policy.inputs.metadata).toEqual(guideManifests.AuthPolicy.metadata);
    // YAML block scalars end in a newline; CEL and Rego do not care.
    expect(trimStrings(policy.inputs.spec)).toEqual(trimStrings(guideManifests.AuthPolicy.spec));
    expect(policy.dependencies).toContain(urn("oauth-token-exchange-setup"));
    // ... and after the Secret holds the generated credentials, not the well-known ones.
    expect(policy.dependencies).toContain(urn("mcp-gateway-client-secret-token-exchange"));
    // Aimed at the route by its configured name (known in a preview), and made after it.
    expect(policy.inputs.spec.targetRef.name).toBe("kubernetes-mcp");
    expect(policy.dependencies).toContain(urn("kubernetes-mcp-route"));
    expect(providerUrn(policy)).toBe(urn("cluster-provider"));
  });

  it("configures one explicit Keycloak provider with TLS verification on and a secret password", () => {
    const providers = run.ofType(KEYCLOAK_PROVIDER);
    expect(providers).toHaveLength(1);
    expect(providers[0].inputs).toMatchObject({
      url: "https://keycloak.127-0-0-1.sslip.io:8002",
      clientId: "admin-cli",
      realm: "master",
      username: "admin",
      password: OIDC_PASSWORD,
      tlsInsecureSkipVerify: "false",
      initialLogin: "false",
    });
    for (const r of run.resources.filter((x) => x.type.startsWith("keycloak:"))) {
      expect(providerUrn(r), r.name).toBe(urn("keycloak"));
    }
  });

  it("creates the guide's public client whose id is the route's namespace/name", () => {
    const client = run.byName("kubernetes-mcp-access-client");
    expect(client.inputs).toMatchObject({
      realmId: guideKeycloak.realm,
      clientId: guideKeycloak.client.clientId,
      accessType: "PUBLIC",
      standardFlowEnabled: guideKeycloak.client.standardFlowEnabled,
      fullScopeAllowed: guideKeycloak.client.fullScopeAllowed,
    });
    expect(client.propertyDependencies.clientId).toEqual([urn("kubernetes-mcp-route")]);
    expect(run.outputs.keycloakClientId).toBeDefined();
  });

  it("marks the client as this stack's, so the next up's preflight does not take it for an imported one", () => {
    expect(run.byName("kubernetes-mcp-access-client").inputs.description).toBe(
      "Managed by Pulumi stack mcp-gateway-stack/dev",
    );
  });

  it("creates one client role per guide tool on that client", () => {
    const roles = run.ofType("keycloak:index/role:Role");
    expect(roles.map((r) => r.inputs.name).sort()).toEqual([...guideKeycloak.roles].sort());
    for (const role of roles) {
      // Role.clientId takes the client's id (Keycloak's UUID), not its clientId.
      expect(role.inputs.clientId).toBe("kubernetes-mcp-access-client-id");
      expect(role.propertyDependencies.clientId).toEqual([urn("kubernetes-mcp-access-client")]);
    }
  });

  it("maps all those roles to the engineering group and puts the mcp user in it", () => {
    expect(run.byName("kubernetes-mcp-access-group").inputs).toMatchObject({
      realmId: "mcp",
      name: guideKeycloak.group,
    });
    const mapping = run.byName("kubernetes-mcp-access-group-roles");
    expect(mapping.inputs.roleIds).toHaveLength(guideKeycloak.roles.length);
    expect(mapping.inputs.exhaustive).toBe(false);
    expect(mapping.propertyDependencies.roleIds.sort()).toEqual(
      run
        .ofType("keycloak:index/role:Role")
        .map((r) => r.urn)
        .sort(),
    );
    expect(mapping.propertyDependencies.groupId).toEqual([urn("kubernetes-mcp-access-group")]);
    const members = run.byName("kubernetes-mcp-access-members");
    expect(members.inputs.members).toEqual([guideKeycloak.user]);
    expect(members.propertyDependencies.groupId).toEqual([urn("kubernetes-mcp-access-group")]);
  });

  it("orders every Keycloak object after the setup step, so destroy removes them before the cluster", () => {
    for (const r of run.resources.filter((x) => x.type.startsWith("keycloak:") && !x.type.startsWith("pulumi:"))) {
      expect(r.dependencies, r.name).toContain(urn("oauth-token-exchange-setup"));
    }
  });

  it("makes every child wait for what its component waits for (the engine records a component's dependsOn on the component alone)", () => {
    const waiting = run.resources.filter((r) => r.type.startsWith("mcp-gateway-stack:") && r.dependencies.length > 0);
    // The route waits for the server process, the setup step for the cluster, the Keycloak access
    // and the AuthPolicy for the setup step.
    expect(waiting.map((c) => c.name).sort()).toEqual([
      "kubernetes-mcp",
      "kubernetes-mcp-access",
      "kubernetes-mcp-auth",
      "mcp-gateway-client-secret",
      "oauth-token-exchange",
    ]);
    for (const component of waiting) {
      const children = run.resources.filter((r) => r.parent === component.urn);
      expect(children.length, component.name).toBeGreaterThan(0);
      for (const child of children)
        expect(child.dependencies, child.name).toEqual(expect.arrayContaining(component.dependencies));
    }
  });

  it("has Keycloak generate a new secret for the realm's mcp-gateway client after the setup step, logging none of it", () => {
    const step = run.byName("mcp-gateway-client-secret-regenerate");
    expect(step.inputs.create).toBe("node --input-type=module");
    expect(step.inputs.stdin).toBe(regenerateSecretScript);
    expect(step.inputs.environment).toEqual({
      KEYCLOAK_URL: "https://keycloak.127-0-0-1.sslip.io:8002",
      KEYCLOAK_REALM: "mcp",
      KEYCLOAK_CLIENT_ID: "mcp-gateway",
      KEYCLOAK_ADMIN_USER: "admin",
      KEYCLOAK_ADMIN_PASSWORD: OIDC_PASSWORD,
      KEYCLOAK_TLS_INSECURE: "false",
    });
    expect(plaintextPaths(step.wire, OIDC_PASSWORD)).toEqual([]);
    expect(step.inputs.logging).toBe("stderr");
    expect(step.inputs.addPreviousOutputInEnv).toBe(false);
    expect(step.options.additionalSecretOutputs).toEqual(["stdout"]);
    expect(step.dependencies).toContain(urn("oauth-token-exchange-setup"));
  });

  it("generates again whenever the setup step would run again (it writes the well-known secret back)", () => {
    const step = run.byName("mcp-gateway-client-secret-regenerate");
    const setup = run.byName("oauth-token-exchange-setup");
    expect(step.inputs.triggers).toEqual([setup.inputs.dir, setup.inputs.create, setup.inputs.environment]);
    expect(step.propertyDependencies.triggers).toEqual([urn("oauth-token-exchange-setup")]);
  });

  it("writes the generated secret into the make target's token-exchange Secret as a Pulumi secret, taking only that key", () => {
    const patch = run.byName("mcp-gateway-client-secret-token-exchange");
    expect(patch.inputs.metadata).toEqual({
      name: "token-exchange",
      namespace: "kuadrant-system",
      annotations: { "pulumi.com/patchForce": "true" },
    });
    // vault-token stays the make target's.
    expect(patch.inputs.data).toEqual(tokenExchangeSecretData("mcp-gateway", FAKE_CLIENT_SECRET));
    expect(patch.propertyDependencies.data).toEqual([urn("mcp-gateway-client-secret-regenerate")]);
    const basic = Buffer.from(`mcp-gateway:${FAKE_CLIENT_SECRET}`).toString("base64");
    for (const form of [FAKE_CLIENT_SECRET, basic, Buffer.from(basic).toString("base64")]) {
      expect(plaintextPaths(patch.wire, form), form).toEqual([]);
      expect(JSON.stringify(run.outputs)).not.toContain(form);
    }
    expect(providerUrn(patch)).toBe(urn("cluster-provider"));
  });

  it("retains the key on destroy: upstream's gateway-level AuthPolicies read it too, and Keycloak keeps the new secret", () => {
    expect(run.byName("mcp-gateway-client-secret-token-exchange").options.retainOnDelete).toBe(true);
    expect(run.byName("mcp-gateway-client-secret-regenerate").inputs.delete).toBeUndefined();
  });

  it("binds the OIDC user <issuer>#mcp to the read-only ClusterRole view by default", () => {
    const binding = run.byName("oidc-user-binding");
    expect(binding.inputs.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "view",
    });
    expect(binding.inputs.metadata.name).toBe("oidc-mcp-view");
    expect(binding.inputs.subjects).toEqual(guideManifests.ClusterRoleBinding.subjects);
  });

  it("binds the OIDC user to cluster-admin as the guide does only when the stack allows it", async () => {
    const admin = await runStack(oidcValues({ oidc: { clusterRole: "cluster-admin", allowClusterAdmin: true } }));
    const binding = admin.byName("oidc-user-binding");
    expect({ ...binding.inputs, apiVersion: undefined, kind: undefined }).toMatchObject({
      metadata: guideManifests.ClusterRoleBinding.metadata,
      roleRef: guideManifests.ClusterRoleBinding.roleRef,
      subjects: guideManifests.ClusterRoleBinding.subjects,
    });
    expect(providerUrn(binding)).toBe(admin.byName("cluster-provider").urn);
  });
});

describe("use case 2 on a stack made before the program made one component per cluster", async () => {
  const run = await runStack(oidcValues());
  const aliasSpecs = (name: string) => run.byName(name).options.aliases.map((a) => JSON.parse(a).spec);

  it("keeps the state of each piece the use-case chain declared at the top: now the server component's child, aliased to its old place", () => {
    const component = run.byName("kubernetes-mcp");
    expect(component.type).toBe("mcp-gateway-stack:mcp:ClusterMcpServer");
    const moved = ["kubernetes-mcp-server", "kubernetes-mcp-access", "kubernetes-mcp-auth", "oidc-user"];
    for (const name of moved) {
      expect(run.byName(name).parent, name).toBe(component.urn);
      expect(aliasSpecs(name), name).toEqual([expect.objectContaining({ noparent: true })]);
    }
    // The listener and the route share their name (the configured route's): both moved.
    const byRouteName = run.resources.filter((r) => r.name === "kubernetes-mcp" && r.parent === component.urn);
    expect(byRouteName.map((r) => r.type).sort()).toEqual([
      "mcp-gateway-stack:gateway:Listener",
      "mcp-gateway-stack:mcp:ServerRoute",
    ]);
    for (const r of byRouteName)
      expect(r.options.aliases.map((a) => JSON.parse(a).spec)).toEqual([expect.objectContaining({ noparent: true })]);
  });

  it("keeps the Keycloak provider's state: made once at the top now, aliased to its place under use case 2's access component", () => {
    expect(run.byName("keycloak").urn).toBe("urn:pulumi:dev::mcp-gateway-stack::pulumi:providers:keycloak::keycloak");
    expect(aliasSpecs("keycloak")).toEqual([
      expect.objectContaining({
        parenturn: "urn:pulumi:dev::mcp-gateway-stack::mcp-gateway-stack:keycloak:ToolAccess::kubernetes-mcp-access",
      }),
    ]);
  });

  it("keeps the token-exchange step's state: a child of its component, aliased to its old top-level place", () => {
    expect(run.byName("oauth-token-exchange-setup").urn).toContain("$");
    expect(aliasSpecs("oauth-token-exchange-setup")).toEqual([expect.objectContaining({ noparent: true })]);
  });
});

describe("use case 2 variants", () => {
  it("hands the token-exchange make step the kubeconfig of cluster.context alone, made current", async () => {
    const run = await runStack(
      oidcValues({ cluster: { mode: "existing", kubeconfig: writeTemp(TWO_CONTEXTS), context: "prod" } }),
    );
    const given = parse(run.byName("oauth-token-exchange-setup").inputs.environment.STACK_KUBECONFIG);
    expect(given["current-context"]).toBe("prod");
    expect(given.contexts.map((c: { name: string }) => c.name)).toEqual(["prod"]);
    expect(JSON.stringify(given)).not.toContain("dev-token");
  });

  it("looks up the client, roles and group a newer realm import already has and writes nothing to Keycloak (no 409, destroy keeps the realm)", async () => {
    const run = await runStack(
      oidcValues({ keycloak: { adminPassword: OIDC_PASSWORD, existingObjects: "reference" } }),
    );
    // Not one Keycloak resource: destroy then cannot take away what the realm import owns.
    expect(
      run.resources.filter((r) => r.type.startsWith("keycloak:") && r.type !== "pulumi:providers:keycloak"),
    ).toEqual([]);
    const tokens = run.invokes.map((i) => i.token);
    expect(tokens.filter((t) => t === "keycloak:index/getRole:getRole")).toHaveLength(22);
    expect(tokens).toContain("keycloak:index/getGroup:getGroup");
    expect(run.invokes.find((i) => i.token === "keycloak:openid/getClient:getClient")?.inputs).toMatchObject({
      realmId: "mcp",
      clientId: "mcp-test/kubernetes-mcp",
    });
    expect(run.outputs.keycloakClientId).toBeDefined();
  });

  it("makes roles for exactly the tools the config lists", async () => {
    const run = await runStack(oidcValues({ mcpServer: { tools: ["pods_list", "resources_scale"] } }));
    expect(
      run
        .ofType("keycloak:index/role:Role")
        .map((r) => r.inputs.name)
        .sort(),
    ).toEqual(["pods_list", "resources_scale"]);
    expect(run.outputs.toolNames).toEqual(["kube_pods_list", "kube_resources_scale"]);
  });

  it("binds the configured ClusterRole and verifies Keycloak's TLS against a given CA", async () => {
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    const run = await runStack(
      oidcValues({ keycloak: { adminPassword: OIDC_PASSWORD, rootCaCertificate: ca }, oidc: { clusterRole: "edit" } }),
    );
    expect(run.byName("oidc-user-binding").inputs.roleRef.name).toBe("edit");
    expect(run.byName("oidc-user-binding").inputs.metadata.name).toBe("oidc-mcp-edit");
    expect(run.byName("keycloak").inputs).toMatchObject({ rootCaCertificate: ca, tlsInsecureSkipVerify: "false" });
    expect(run.byName("mcp-gateway-client-secret-regenerate").inputs.environment).toMatchObject({
      KEYCLOAK_CA: ca,
      KEYCLOAK_TLS_INSECURE: "false",
    });
  });

  it("regenerates the gateway client's secret in reference mode too, and patches the Secret oidc.tokenExchangeSecret names", async () => {
    const run = await runStack(
      oidcValues({
        keycloak: { adminPassword: OIDC_PASSWORD, existingObjects: "reference", tlsInsecureSkipVerify: true },
        oidc: { tokenExchangeSecret: "gateway-exchange" },
      }),
    );
    expect(run.byName("mcp-gateway-client-secret-regenerate").inputs.environment).toMatchObject({
      KEYCLOAK_CLIENT_ID: "mcp-gateway",
      KEYCLOAK_TLS_INSECURE: "true",
    });
    expect(run.byName("mcp-gateway-client-secret-token-exchange").inputs.metadata.name).toBe("gateway-exchange");
    expect(
      run.byName("kubernetes-mcp-auth-policy").inputs.spec.rules.metadata["oauth-token-exchange"].http.sharedSecretRef
        .name,
    ).toBe("gateway-exchange");
  });
});
