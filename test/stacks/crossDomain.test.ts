import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { domainChainMetadata } from "../../components/domainChain";
import { authRules } from "../../components/toolAuthPolicy";
import {
  crossDomainValues,
  DOMAIN_B,
  FAKE_GATEWAY_ADDRESS,
  FAKE_GATEWAY_CA,
  FAKE_KUBECONFIG,
  oidcValues,
  plaintextPaths,
  providerUrn,
  runStack,
  type StackRun,
} from "../support/pulumiHarness";

const planOf = (run: StackRun) => run.resources.map((r) => `${r.type} ${r.name}`).sort();

const KC = "https://keycloak.127-0-0-1.sslip.io:8002";
const GATEWAY_ISSUER = `${KC}/realms/mcp`;
const B_ISSUER = `${KC}/realms/cluster-b`;

describe("use case 3 (cross-domain) with one more cluster, b, in realm cluster-b", async () => {
  const run = await runStack(crossDomainValues());
  const oidc = await runStack(oidcValues());
  const urn = (name: string) => run.byName(name).urn;

  it("adds exactly one cluster's worth of resources to use case 2, and changes none of use case 2's", () => {
    const added = planOf(run).filter((r) => !planOf(oidc).includes(r));
    const tools = run.config.mcpServer.tools;
    expect(added).toEqual(
      [
        // cluster b: its provider; its server component: the MCP server, its binding
        "mcp-gateway-stack:mcp:ClusterMcpServer kubernetes-mcp-b",
        "mcp-gateway-stack:cluster:GatewayCluster cluster-b",
        "pulumi:providers:kubernetes cluster-b-provider",
        "mcp-gateway-stack:mcp:LocalMcpServer kubernetes-mcp-server-b",
        "command:local:Command kubernetes-mcp-server-b-process",
        "mcp-gateway-stack:auth:OidcClusterAccess oidc-user-b",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding oidc-user-b-binding",
        // on the gateway's cluster: listener, route, service, entry, registration, policy
        "mcp-gateway-stack:gateway:Listener kubernetes-mcp-b",
        "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch kubernetes-mcp-b-patch",
        "mcp-gateway-stack:mcp:ServerRoute kubernetes-mcp-b",
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute kubernetes-mcp-b-route",
        "kubernetes:core/v1:Service kubernetes-mcp-b-external",
        "kubernetes:networking.istio.io/v1beta1:ServiceEntry kubernetes-mcp-b-service-entry",
        "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer kubernetes-mcp-b-mcp-server",
        "mcp-gateway-stack:auth:ToolAuthPolicy kubernetes-mcp-b-auth",
        "kubernetes:kuadrant.io/v1:AuthPolicy kubernetes-mcp-b-auth-policy",
        // kind mode: the gateway's own Keycloak patched to chain, and realm cluster-b made in it
        "mcp-gateway-stack:keycloak:Chaining keycloak-chaining",
        "kubernetes:core/v1:ConfigMap keycloak-chaining-gateway-ca",
        "kubernetes:apps/v1:DeploymentPatch keycloak-chaining-deployment",
        "command:local:Command keycloak-chaining-image",
        "keycloak:index/realm:Realm realm-b",
        // once per stack: sub in the gateway realm's exchange client's tokens
        "mcp-gateway-stack:keycloak:GatewaySubject gateway-subject",
        "keycloak:openid/subProtocolMapper:SubProtocolMapper gateway-subject-mapper",
        // the trust between the realms, and the grant client's Secret for Authorino
        "mcp-gateway-stack:keycloak:DomainTrust domain-b-trust",
        "keycloak:openid/client:Client domain-b-trust-audience",
        "keycloak:index/role:Role domain-b-trust-audience-role",
        "keycloak:index/groupRoles:GroupRoles domain-b-trust-audience-group-role",
        "keycloak:oidc/identityProvider:IdentityProvider domain-b-trust-idp",
        "keycloak:openid/client:Client domain-b-trust-grant-client",
        "keycloak:index/user:User domain-b-trust-user",
        "kubernetes:core/v1:Secret domain-b-trust-grant-secret",
        // the tool roles in realm cluster-b, as use case 2 has them in the gateway's realm
        "mcp-gateway-stack:keycloak:ToolAccess kubernetes-mcp-b-access",
        "keycloak:openid/client:Client kubernetes-mcp-b-access-client",
        ...tools.map((t) => `keycloak:index/role:Role kubernetes-mcp-b-access-role-${t}`),
        "keycloak:index/group:Group kubernetes-mcp-b-access-group",
        "keycloak:index/groupMemberships:GroupMemberships kubernetes-mcp-b-access-members",
        "keycloak:index/groupRoles:GroupRoles kubernetes-mcp-b-access-group-roles",
      ].sort(),
    );
    expect(planOf(oidc).filter((r) => !planOf(run).includes(r))).toEqual([]);
    for (const before of oidc.resources) expect(run.byName(before.name).inputs, before.name).toEqual(before.inputs);
  });

  it("starts cluster b's MCP server on its port, with its own state dir and its kubeconfig without credentials", () => {
    const env = run.byName("kubernetes-mcp-server-b-process").inputs.environment;
    expect(env.MCP_PORT).toBe("9992");
    // Its own host-state folder: organization/project/stack/<project dir hash>/<component>.
    expect(env.MCP_STATE_KEY).toMatch(/^organization\/mcp-gateway-stack\/dev\/[0-9a-f]{12}\/kubernetes-mcp-server-b$/);
    expect(parse(env.MCP_KUBECONFIG).users).toEqual([{ name: "b-admin", user: {} }]);
    expect(parse(env.MCP_KUBECONFIG).clusters[0].cluster.server).toBe("https://127.0.0.1:6444");
    expect(run.byName("kubernetes-mcp-server-process").inputs.environment.MCP_STATE_KEY).toBe(
      env.MCP_STATE_KEY.replace(/-b$/, ""),
    );
  });

  it("registers cluster b's server on the gateway's cluster under its own host and the tool prefix kube_b_", () => {
    const gatewayProvider = urn("cluster-provider");
    for (const name of ["kubernetes-mcp-b-route", "kubernetes-mcp-b-mcp-server", "kubernetes-mcp-b-patch"]) {
      expect(providerUrn(run.byName(name)), name).toBe(gatewayProvider);
    }
    expect(run.byName("kubernetes-mcp-b-route").inputs.spec.hostnames).toEqual([DOMAIN_B.host]);
    expect(run.byName("kubernetes-mcp-b-mcp-server").inputs.spec.toolPrefix).toBe("kube_b_");
    expect(run.byName("kubernetes-mcp-b-patch").inputs.spec.listeners[0]).toMatchObject({
      name: "kubernetes-mcp-b",
      hostname: DOMAIN_B.host,
    });
    // A second named field manager would conflict with the first on its own annotation (found by
    // crossdomain.test.ts on a real API server): b's patch takes the provider's random one.
    expect(run.byName("kubernetes-mcp-b-patch").inputs.metadata).toEqual({
      name: "mcp-gateway",
      namespace: "gateway-system",
    });
    expect(run.outputs.toolNames).toEqual([
      ...run.config.mcpServer.tools.map((t) => `kube_${t}`),
      ...run.config.mcpServer.tools.map((t) => `kube_b_${t}`),
    ]);
  });

  it("lets only the gateway group's members' tokens be exchanged for realm cluster-b's issuer", () => {
    const audience = run.byName("domain-b-trust-audience").inputs;
    expect(audience).toMatchObject({ realmId: "mcp", clientId: B_ISSUER, accessType: "PUBLIC" });
    expect(run.byName("domain-b-trust-audience-group-role").inputs).toMatchObject({
      realmId: "mcp",
      exhaustive: false,
    });
    expect(run.byName("domain-b-trust-audience-group-role").propertyDependencies.groupId).toEqual([
      urn("kubernetes-mcp-access-group"),
    ]);
  });

  it("adds sub to the tokens of the gateway realm's exchange client (the cluster realm finds the linked user by it)", () => {
    expect(
      run.invokes.filter((i) => i.token === "keycloak:openid/getClient:getClient").map((i) => i.inputs),
    ).toContainEqual({ realmId: "mcp", clientId: "mcp-gateway" });
    expect(run.byName("gateway-subject-mapper").inputs).toMatchObject({
      realmId: "mcp",
      clientId: "existing-client-uuid",
      addToAccessToken: true,
    });
    expect(run.byName("gateway-subject-mapper").dependencies).toContain(urn("oauth-token-exchange-setup"));
  });

  it("makes realm cluster-b trust the gateway's realm for the JWT authorization grant, for the linked user only", () => {
    expect(run.byName("domain-b-trust-idp").inputs).toMatchObject({
      realm: "cluster-b",
      alias: "gateway",
      issuer: GATEWAY_ISSUER,
      jwksUrl: `${GATEWAY_ISSUER}/protocol/openid-connect/certs`,
      validateSignature: true,
      linkOnly: true,
      extraConfig: { jwtAuthorizationGrantEnabled: "true" },
    });
    expect(run.byName("domain-b-trust-grant-client").inputs).toMatchObject({
      realmId: "cluster-b",
      clientId: "mcp-gateway",
      accessType: "CONFIDENTIAL",
      oauth2JwtAuthorizationGrantEnabled: true,
      oauth2JwtAuthorizationGrantIdp: "gateway",
      standardTokenExchangeEnabled: true,
    });
    expect(run.invokes.find((i) => i.token === "keycloak:index/getUser:getUser")?.inputs).toMatchObject({
      realmId: "mcp",
      username: "mcp",
    });
    expect(run.byName("domain-b-trust-user").inputs).toMatchObject({
      realmId: "cluster-b",
      username: "mcp",
      federatedIdentities: [{ identityProvider: "gateway", userId: "existing-user-id", userName: "mcp" }],
    });
  });

  it("gives Authorino the grant client's Basic credentials as a secret Secret in kuadrant-system", () => {
    const secret = run.byName("domain-b-trust-grant-secret");
    expect(secret.inputs.metadata).toMatchObject({ namespace: "kuadrant-system", name: "kubernetes-mcp-b-grant" });
    // k8s.core.v1.Secret marks both outputs secret itself.
    expect(secret.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["data", "stringData"]));
    const basic = secret.inputs.stringData["oauth-client-basic-auth"];
    expect(Buffer.from(basic, "base64").toString()).toMatch(/^mcp-gateway:/);
    expect(plaintextPaths(secret.wire, basic)).toEqual([]);
  });

  it("puts the tool roles on the server's client in realm cluster-b, mapped to that realm's group of the linked user", () => {
    const client = run.byName("kubernetes-mcp-b-access-client").inputs;
    expect(client).toMatchObject({ realmId: "cluster-b", clientId: "mcp-test/kubernetes-mcp-b" });
    expect(run.byName("kubernetes-mcp-b-access-members").inputs).toMatchObject({
      realmId: "cluster-b",
      members: ["mcp"],
    });
    // One Keycloak provider for both realms: no second login.
    expect(run.ofType("pulumi:providers:keycloak")).toHaveLength(1);
    expect(run.byName("kubernetes-mcp-b-access-members").dependencies).toContain(urn("domain-b-trust-user"));
  });

  it("chains the tokens in cluster b's AuthPolicy and keeps use case 2's checks", () => {
    const policy = run.byName("kubernetes-mcp-b-auth-policy").inputs;
    expect(policy.spec.targetRef.name).toBe("kubernetes-mcp-b");
    expect(policy.spec.rules.metadata).toEqual(
      domainChainMetadata({
        gatewayIssuerUrl: GATEWAY_ISSUER,
        domainIssuerUrl: B_ISSUER,
        gatewayClientSecret: "token-exchange",
        domainClientSecret: "kubernetes-mcp-b-grant",
      }),
    );
    expect(policy.spec.rules.authentication).toEqual({ keycloak: { jwt: { issuerUrl: GATEWAY_ISSUER } } });
    const guide = run.byName("kubernetes-mcp-auth-policy").inputs.spec.rules;
    expect(policy.spec.rules.authorization).toEqual(guide.authorization);
    expect(policy.spec.rules.authorization.token.opa.rego).toBe(authRules.rego);
    for (const step of ["gateway-domain-exchange", "domain-grant", "oauth-token-exchange"]) {
      expect(policy.spec.rules.metadata[step].http.sharedSecretRef.name, step).not.toBe("");
    }
    expect(run.byName("kubernetes-mcp-b-auth-policy").dependencies).toContain(urn("domain-b-trust-grant-secret"));
    // Its first step authenticates with the gateway client's generated secret, not the well-known one.
    expect(run.byName("kubernetes-mcp-b-auth-policy").dependencies).toContain(
      urn("mcp-gateway-client-secret-token-exchange"),
    );
  });

  it("orders b's objects: the registration after b's server answers, the trust after the setup step and use case 2's group", () => {
    expect(run.byName("kubernetes-mcp-b-mcp-server").dependencies).toContain(urn("kubernetes-mcp-server-b-process"));
    for (const name of ["domain-b-trust-audience", "domain-b-trust-idp", "domain-b-trust-grant-secret"]) {
      expect(run.byName(name).dependencies, name).toEqual(
        expect.arrayContaining([urn("oauth-token-exchange-setup"), urn("kubernetes-mcp-access-group")]),
      );
    }
  });

  it("binds <realm cluster-b issuer>#mcp on cluster b, not on the gateway's cluster", () => {
    const binding = run.byName("oidc-user-b-binding");
    expect(binding.inputs.subjects).toEqual([
      { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${B_ISSUER}#mcp` },
    ]);
    expect(providerUrn(binding)).toBe(urn("cluster-b-provider"));
  });

  it("keeps cluster b's kubeconfig secret everywhere", () => {
    for (const r of run.resources) expect(plaintextPaths(r.wire, "CLUSTER-B-ADMIN-TOKEN"), r.name).toEqual([]);
    expect(plaintextPaths(run.byName("kubernetes-mcp-server-b-process").wire, "127.0.0.1:6444")).toEqual([]);
  });
});

describe("use case 3 with two more clusters", async () => {
  const run = await runStack(
    crossDomainValues([
      DOMAIN_B,
      { ...DOMAIN_B, name: "c", realm: "cluster-c", port: 9993, host: "kube-c.example.test" },
    ]),
  );

  it("declares each one's objects under its own names and one Keycloak provider", () => {
    for (const d of ["b", "c"]) {
      expect(run.byName(`kubernetes-mcp-${d}-mcp-server`).inputs.spec.toolPrefix).toBe(`kube_${d}_`);
      expect(run.byName(`domain-${d}-trust-idp`).inputs.realm).toBe(`cluster-${d}`);
    }
    expect(run.ofType("pulumi:providers:keycloak")).toHaveLength(1);
    expect(run.ofType("pulumi:providers:kubernetes")).toHaveLength(3);
    expect(run.ofType("keycloak:openid/subProtocolMapper:SubProtocolMapper")).toHaveLength(1);
  });
});

describe("a further cluster whose kubeconfig lacks the configured context", () => {
  it("fails the mocked run with the kubeconfig error instead of hanging (the error is thrown inside an apply)", async () => {
    const started = Date.now();
    await expect(runStack(crossDomainValues([{ ...DOMAIN_B, context: "nope" }]))).rejects.toThrow(
      "domains[0].kubeconfig: expected a kubeconfig with the context 'nope', but its contexts are: b",
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe("a further cluster b in kind mode: the stack creates its Kind cluster, trusting realm cluster-b", async () => {
  const { kubeconfig: _, ...bWithoutKubeconfig } = DOMAIN_B;
  const DOMAIN_B_KIND = { ...bWithoutKubeconfig, cluster: { mode: "kind" } };
  const run = await runStack(crossDomainValues([DOMAIN_B_KIND]));
  const existing = await runStack(crossDomainValues());
  const create = run.byName("cluster-b-kind");
  const kindConfig = parse(create.inputs.environment.MCP_KIND_CONFIG);

  it("adds the kind steps, and nothing else, to the existing-mode plan", () => {
    // (The harness records registrations: the reads of the gateway's CA and address are not among them.)
    expect(planOf(run).filter((r) => !planOf(existing).includes(r))).toEqual([
      "command:local:Command cluster-b-kind",
      "command:local:Command cluster-b-kubeconfig",
    ]);
    expect(planOf(existing).filter((r) => !planOf(run).includes(r))).toEqual([]);
    // The domain's component and provider keep their names, under the same type.
    expect(run.byName("cluster-b-provider").urn).toBe(existing.byName("cluster-b-provider").urn);
  });

  it("writes a Kind config whose API server takes realm cluster-b's tokens for b's server, with the gateway's CA", () => {
    const patch = parse(kindConfig.nodes[0].kubeadmConfigPatches[0]);
    expect(patch.apiServer.extraArgs).toEqual({
      "oidc-issuer-url": B_ISSUER,
      "oidc-client-id": "mcp-test/kubernetes-mcp-b",
      "oidc-username-claim": "preferred_username",
      "oidc-groups-claim": "groups",
      "oidc-ca-file": "/etc/kubernetes/pki/keycloak-ca.crt",
    });
    // The CA the create step writes into the cluster's host-state folder, mounted where the flag names it.
    expect(kindConfig.nodes[0].extraMounts).toEqual([
      {
        hostPath: expect.stringMatching(
          /\/mcp-gateway-stack\/organization\/mcp-gateway-stack\/dev\/[0-9a-f]{12}\/cluster-b\/keycloak-ca\.crt$/,
        ),
        containerPath: "/etc/kubernetes/pki/keycloak-ca.crt",
        readOnly: true,
      },
    ]);
    // What the mocked read of Secret gateway-system/mcp-gateway-keycloak-cert finds, out of its data.
    expect(create.inputs.environment.MCP_KEYCLOAK_CA).toBe(FAKE_GATEWAY_CA);
    expect(plaintextPaths(create.wire, "MIIfake-gateway-ca")).toEqual(["$.environment.MCP_KEYCLOAK_CA"]);
    // The node resolves Keycloak's host name to the Gateway, as build/keycloak.mk does for the gateway's node.
    expect(create.inputs.environment.MCP_NODE_HOSTS).toBe(`${FAKE_GATEWAY_ADDRESS} keycloak.127-0-0-1.sslip.io`);
  });

  it("creates it with kind create cluster as mcp-b, deletes it with kind delete cluster, and replaces it when what it gets changes", () => {
    expect(create.inputs.environment.KIND_CLUSTER_NAME).toBe("mcp-b");
    expect(create.inputs.create).toContain(
      'kind create cluster --name "$KIND_CLUSTER_NAME" --config "$state_dir/kind-config.yaml"',
    );
    expect(create.inputs.delete).toContain('kind delete cluster --name "$KIND_CLUSTER_NAME"');
    // A new script version alone changes nothing; what the cluster gets does (a new API server's flags).
    expect(create.inputs.update).toBe("true");
    expect(create.options.replaceOnChanges).toContain("environment");
    expect(create.options.deleteBeforeReplace).toBe(true);
    const read = run.byName("cluster-b-kubeconfig");
    expect(read.inputs.create).toBe('kind get kubeconfig --name "$KIND_CLUSTER_NAME"');
    expect(read.inputs.environment).toEqual({ KIND_CLUSTER_NAME: "mcp-b" });
    // Read again for each new cluster: the create's id is its trigger.
    expect(read.inputs.triggers).toEqual([create.urn.replace(/.*::/, "") + "-id"]);
    expect(read.propertyDependencies.triggers).toEqual([create.urn]);
  });

  it("gives b's provider, binding and server the kubeconfig Kind prints, and a new identity with each new cluster", () => {
    const provider = run.byName("cluster-b-provider");
    expect(provider.inputs.kubeconfig).toBe(FAKE_KUBECONFIG);
    expect(provider.propertyDependencies.kubeconfig).toEqual([run.byName("cluster-b-kubeconfig").urn]);
    expect(provider.inputs.clusterIdentifier).toBe("kind-mcp-b-cluster-b-kind-id");
    expect(provider.inputs.deleteUnreachable).toBe("true");
    expect(providerUrn(run.byName("oidc-user-b-binding"))).toBe(provider.urn);
    const env = run.byName("kubernetes-mcp-server-b-process").inputs.environment;
    expect(parse(env.MCP_KUBECONFIG).clusters[0].cluster.server).toBe("https://127.0.0.1:6443");
    // Kind's admin key stays with the provider: the server gets the kubeconfig without credentials.
    expect(parse(env.MCP_KUBECONFIG).users).toEqual([{ name: "kind", user: {} }]);
  });

  it("keeps Kind's kubeconfig secret: the read's output, the provider's input and the server's", () => {
    expect(run.byName("cluster-b-kubeconfig").options.additionalSecretOutputs).toContain("stdout");
    for (const r of run.resources) expect(plaintextPaths(r.wire, "S0VZLURBVEEtRlJPTS1LSU5E"), r.name).toEqual([]);
    expect(plaintextPaths(run.byName("kubernetes-mcp-server-b-process").wire, "127.0.0.1:6443")).toEqual([]);
  });

  it("takes keycloak.rootCaCertificate as the CA when set, and adds no hosts line for a Keycloak at an IP", async () => {
    const ca = "-----BEGIN CERTIFICATE-----\nMIIown-ca\n-----END CERTIFICATE-----\n";
    const own = await runStack({
      ...crossDomainValues([DOMAIN_B_KIND]),
      keycloak: { adminPassword: "pw", url: "https://10.0.0.5:8443", rootCaCertificate: ca },
    });
    const env = own.byName("cluster-b-kind").inputs.environment;
    expect(env.MCP_KEYCLOAK_CA).toBe(ca);
    expect(env.MCP_NODE_HOSTS).toBe("");
    expect(own.resources.map((r) => r.name)).not.toContain("kind-domains-keycloak-ca");
    expect(own.resources.map((r) => r.name)).not.toContain("kind-domains-gateway");
    expect(parse(parse(env.MCP_KIND_CONFIG).nodes[0].kubeadmConfigPatches[0]).apiServer.extraArgs).toMatchObject({
      "oidc-issuer-url": "https://10.0.0.5:8443/realms/cluster-b",
    });
  });

  it("names Kuadrant's server id as the audience on gateway.release kuadrant-v0.9.0", async () => {
    const kuadrant = await runStack({ ...crossDomainValues([DOMAIN_B_KIND]), gateway: { release: "kuadrant-v0.9.0" } });
    const config = parse(kuadrant.byName("cluster-b-kind").inputs.environment.MCP_KIND_CONFIG);
    expect(parse(config.nodes[0].kubeadmConfigPatches[0]).apiServer.extraArgs["oidc-client-id"]).toBe(
      "mcp-test/kubernetes-mcp-server-b",
    );
  });
});

describe("further clusters b (existing) and c (kind) together", async () => {
  const { kubeconfig: _, ...c } = {
    ...DOMAIN_B,
    name: "c",
    realm: "cluster-c",
    port: 9993,
    host: "kube-c.example.test",
  };
  const run = await runStack(crossDomainValues([DOMAIN_B, { ...c, cluster: { mode: "kind", name: "kind-c" } }]));
  const existing = await runStack(crossDomainValues());

  it("leaves b's resources as an existing-mode stack has them, and creates Kind cluster kind-c for c", () => {
    for (const name of ["cluster-b", "cluster-b-provider", "oidc-user-b-binding", "kubernetes-mcp-server-b-process"]) {
      expect(run.byName(name).urn, name).toBe(existing.byName(name).urn);
      expect(run.byName(name).inputs, name).toEqual(existing.byName(name).inputs);
    }
    expect(run.resources.map((r) => r.name)).not.toContain("cluster-b-kind");
    expect(run.byName("cluster-c-kind").inputs.environment.KIND_CLUSTER_NAME).toBe("kind-c");
    expect(run.byName("cluster-c-provider").inputs.clusterIdentifier).toBe("kind-kind-c-cluster-c-kind-id");
  });
});
