import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  FAKE_CHECKOUT,
  FAKE_KUBECONFIG,
  TWO_CONTEXTS,
  providerUrn,
  runStack,
  writeTemp,
  type StackRun,
} from "../support/pulumiHarness";
import { platformPackage } from "../../components/localMcpServer";
import { guideManifests } from "../support/guide";

const K8S_PROVIDER = "pulumi:providers:kubernetes";

/** `type name` for every resource, sorted: the plan as a reviewer reads it. */
export const planOf = (run: StackRun) => run.resources.map((r) => `${r.type} ${r.name}`).sort();

describe("use case 1 (no-auth) with the defaults", async () => {
  const run = await runStack({});
  const urn = (name: string) => run.byName(name).urn;

  it("declares exactly the cluster, the MCP server process, the listener and the registration", () => {
    expect(planOf(run)).toEqual(
      [
        "command:local:Command cluster-kubeconfig",
        "command:local:Command cluster-local-env",
        "command:local:Command kubernetes-mcp-server-process",
        "command:local:Command mcp-gateway-checkout-git",
        "kubernetes:core/v1:Service kubernetes-mcp-external",
        "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch kubernetes-mcp-patch",
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute kubernetes-mcp-route",
        "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer kubernetes-mcp-mcp-server",
        "kubernetes:networking.istio.io/v1beta1:ServiceEntry kubernetes-mcp-service-entry",
        "mcp-gateway-stack:cluster:GatewayCluster cluster",
        "mcp-gateway-stack:gateway:Checkout mcp-gateway-checkout",
        "mcp-gateway-stack:gateway:Listener kubernetes-mcp",
        "mcp-gateway-stack:mcp:ClusterMcpServer kubernetes-mcp",
        "mcp-gateway-stack:mcp:LocalMcpServer kubernetes-mcp-server",
        "mcp-gateway-stack:mcp:ServerRoute kubernetes-mcp",
        `${K8S_PROVIDER} cluster-provider`,
      ].sort(),
    );
  });

  it("keeps the state of a stack made when the cluster component was KindCluster (an alias to the old type, which its children inherit)", () => {
    expect(run.byName("cluster").options.aliases.map((a) => JSON.parse(a).spec)).toEqual([
      expect.objectContaining({ type: "mcp-gateway-stack:cluster:KindCluster" }),
    ]);
  });

  it("declares no OIDC resource", () => {
    const oidcTypes = run.resources.filter(
      (r) => r.type.startsWith("keycloak:") || r.type.includes("AuthPolicy") || r.type.includes("ClusterRoleBinding"),
    );
    expect(oidcTypes).toEqual([]);
    expect(run.resources.map((r) => r.name)).not.toContain("oauth-token-exchange-setup");
    expect(run.outputs.keycloakClientId).toBeUndefined();
  });

  it("clones the pinned gateway commit and runs the make targets of the guide in that checkout", () => {
    const git = run.byName("mcp-gateway-checkout-git").inputs;
    expect(git.environment).toMatchObject({
      GATEWAY_REPO: "https://github.com/kagenti/mcp-gateway.git",
      GATEWAY_REF: "397bf8d68a67e53914c5712b53bac49d15c49344",
    });
    const env = run.byName("cluster-local-env");
    expect(env.inputs.dir).toBe(FAKE_CHECKOUT);
    // The scripts around the targets (refuse a cluster it did not make, hide the admin password)
    // run for real in test/components/gatewayCluster.test.ts.
    expect(env.inputs.create).toContain("make local-env-setup 3>&- 2>&1");
    expect(env.inputs.delete).toContain("make local-env-teardown 3>&- 2>&1");
    expect(env.inputs.logging).toBe("stderr");
    expect(env.options.additionalSecretOutputs).toEqual(["stderr"]);
    expect(env.propertyDependencies.dir).toEqual([urn("mcp-gateway-checkout-git")]);
    const kubeconfig = run.byName("cluster-kubeconfig");
    expect(kubeconfig.inputs.create).toBe('bin/kind get kubeconfig --name "$KIND_CLUSTER_NAME"');
    expect(kubeconfig.inputs.environment).toEqual({ KIND_CLUSTER_NAME: "mcp-gateway" });
    expect(kubeconfig.propertyDependencies.dir).toEqual([urn("cluster-local-env")]);
  });

  it("makes one Kubernetes provider from the Kind kubeconfig that survives a re-read and a deleted cluster", () => {
    const providers = run.ofType(K8S_PROVIDER);
    expect(providers).toHaveLength(1);
    const p = providers[0];
    expect(p.inputs).toMatchObject({
      kubeconfig: FAKE_KUBECONFIG,
      clusterIdentifier: "kind-mcp-gateway",
      deleteUnreachable: "true",
    });
    expect(p.propertyDependencies.kubeconfig).toEqual([urn("cluster-kubeconfig")]);
  });

  it("puts every Kubernetes object on that provider, never the default one", () => {
    const k8sObjects = run.resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(k8sObjects).toHaveLength(5);
    for (const r of k8sObjects) expect(providerUrn(r), r.name).toBe(urn("cluster-provider"));
  });

  it("starts kubernetes-mcp-server from the npm package on port 9999 with the guide's toolsets and the cluster's kubeconfig", () => {
    const server = run.byName("kubernetes-mcp-server-process");
    expect(server.inputs.environment).toMatchObject({
      MCP_PORT: "9999",
      MCP_TOOLSETS: "core,config,helm",
      // The platform package npm installed here (linux-amd64 on CI, darwin-arm64 on a Mac, ...).
      MCP_BINARY: `node_modules/${platformPackage(process.platform, process.arch)}/bin/${platformPackage(process.platform, process.arch)}`,
      MCP_KUBECONFIG: FAKE_KUBECONFIG,
    });
    expect(server.propertyDependencies.environment).toEqual([urn("cluster-kubeconfig")]);
    expect(server.inputs.delete).toContain("kill");
  });

  it("patches only the guide's listener onto the gateway-system/mcp-gateway Gateway with its own field manager", () => {
    const patch = run.byName("kubernetes-mcp-patch").inputs;
    const guide = guideManifests.Gateway;
    expect(patch.metadata).toEqual({
      ...guide.metadata,
      annotations: { "pulumi.com/patchFieldManager": "mcp-gateway-stack-kubernetes-mcp" },
    });
    expect(patch.spec).toEqual(guide.spec);
    expect(patch.metadata.annotations).not.toHaveProperty("pulumi.com/patchForce");
  });

  it("declares the HTTPRoute, Service and ServiceEntry with the guide's fields in mcp-test", () => {
    for (const [name, kind] of [
      ["kubernetes-mcp-route", "HTTPRoute"],
      ["kubernetes-mcp-external", "Service"],
      ["kubernetes-mcp-service-entry", "ServiceEntry"],
    ]) {
      const declared = run.byName(name).inputs;
      const guide = guideManifests[kind];
      expect(declared.apiVersion, name).toBe(guide.apiVersion);
      expect(declared.metadata, name).toEqual({ name: guide.metadata.name, namespace: "mcp-test" });
      expect(declared.spec, name).toEqual(guide.spec);
    }
  });

  it("declares the MCPServer with the guide's toolPrefix and a targetRef derived from the route", () => {
    const server = run.byName("kubernetes-mcp-mcp-server");
    const guide = guideManifests.MCPServer;
    expect(server.inputs.apiVersion).toBe(guide.apiVersion);
    expect(server.inputs.metadata).toEqual({ name: guide.metadata.name, namespace: "mcp-test" });
    expect(server.inputs.spec).toEqual({
      ...guide.spec,
      targetRef: { ...guide.spec.targetRef, namespace: "mcp-test" },
    });
    expect(server.propertyDependencies.spec).toEqual([urn("kubernetes-mcp-route")]);
  });

  it("links the registration by data: route -> service and gateway, entry -> service, MCPServer after the server answers", () => {
    expect(run.byName("kubernetes-mcp-route").propertyDependencies.spec.sort()).toEqual(
      [urn("kubernetes-mcp-external"), urn("kubernetes-mcp-patch")].sort(),
    );
    expect(run.byName("kubernetes-mcp-service-entry").propertyDependencies.spec).toEqual([
      urn("kubernetes-mcp-external"),
    ]);
    expect(run.byName("kubernetes-mcp-mcp-server").dependencies).toContain(urn("kubernetes-mcp-server-process"));
  });

  it("groups each resource under its component", () => {
    const parentOf = (name: string) => run.byName(name).parent;
    expect(parentOf("mcp-gateway-checkout-git")).toBe(urn("mcp-gateway-checkout"));
    expect(parentOf("cluster-local-env")).toBe(urn("cluster"));
    expect(parentOf("cluster-provider")).toBe(urn("cluster"));
    expect(parentOf("kubernetes-mcp-server-process")).toBe(urn("kubernetes-mcp-server"));
    expect(parentOf("kubernetes-mcp-patch")).toBe(run.ofType("mcp-gateway-stack:gateway:Listener")[0].urn);
    for (const child of [
      "kubernetes-mcp-route",
      "kubernetes-mcp-external",
      "kubernetes-mcp-service-entry",
      "kubernetes-mcp-mcp-server",
    ]) {
      expect(parentOf(child)).toBe(run.ofType("mcp-gateway-stack:mcp:ServerRoute")[0].urn);
    }
  });

  it("exports the gateway URL on host port 8001, the prefix, the prefixed tools and the Inspector command", () => {
    expect(run.outputs.mcpGatewayUrl).toBe("http://mcp.127-0-0-1.sslip.io:8001/mcp");
    expect(run.outputs.toolPrefix).toBe("kube_");
    // The guide's 22 but configuration_view: without auth it would hand anyone the kubeconfig.
    expect(run.outputs.toolNames).toHaveLength(21);
    expect(run.outputs.toolNames).toContain("kube_namespaces_list");
    expect(run.outputs.toolNames).not.toContain("kube_configuration_view");
    expect(run.outputs.inspectorCommand).toContain("--server-url 'http://mcp.127-0-0-1.sslip.io:8001/mcp'");
    // A pinned Inspector that keeps its proxy's session token.
    expect(run.outputs.inspectorCommand).toMatch(/@modelcontextprotocol\/inspector@\d+\.\d+\.\d+ /);
    expect(run.outputs.inspectorCommand).not.toMatch(/DANGEROUSLY_OMIT_AUTH|@latest/);
  });
});

describe("use case 1 variants", () => {
  it("registers a server the user runs, without starting one, when mcpServer.manage is false", async () => {
    const run = await runStack({ mcpServer: { manage: false } });
    expect(run.resources.map((r) => r.name)).not.toContain("kubernetes-mcp-server-process");
    expect(run.byName("kubernetes-mcp-mcp-server").dependencies).toEqual([run.byName("kubernetes-mcp-route").urn]);
  });

  it("uses an existing cluster's kubeconfig and context, with no checkout and no make step", async () => {
    const file = writeTemp(TWO_CONTEXTS);
    const run = await runStack({ cluster: { mode: "existing", kubeconfig: file, context: "prod" } });
    const names = run.resources.map((r) => r.name);
    expect(names).not.toContain("cluster-local-env");
    expect(names).not.toContain("mcp-gateway-checkout-git");
    expect(run.byName("cluster-provider").inputs).toMatchObject({ context: "prod", clusterIdentifier: "prod" });
  });

  it("hands the provider and the MCP server only cluster.context's context, cluster and user, made current", async () => {
    // The file's current context is another cluster: nothing may act on it.
    const run = await runStack({ cluster: { mode: "existing", kubeconfig: writeTemp(TWO_CONTEXTS), context: "prod" } });
    for (const given of [
      run.byName("cluster-provider").inputs.kubeconfig,
      run.byName("kubernetes-mcp-server-process").inputs.environment.MCP_KUBECONFIG,
    ]) {
      const doc = parse(given);
      expect(doc["current-context"]).toBe("prod");
      expect(doc.contexts.map((c: { name: string }) => c.name)).toEqual(["prod"]);
      expect(doc.clusters).toEqual([{ name: "prod-cluster", cluster: { server: "https://10.0.0.2:6443" } }]);
      expect(given).not.toContain("dev-token");
      expect(given).not.toContain("10.0.0.1");
    }
  });

  it("with cluster.adopt reads the kubeconfig with bin/kind, else the kind on PATH (make never ran to install it)", async () => {
    const run = await runStack({ cluster: { adopt: true } });
    expect(run.byName("cluster-kubeconfig").inputs.create).toBe(
      'kind=bin/kind; [ -x "$kind" ] || kind=kind; "$kind" get kubeconfig --name "$KIND_CLUSTER_NAME"',
    );
  });

  it("binds the server where the gateway reaches it by default: the Kind network's host address, loopback on an existing cluster", async () => {
    const kind = await runStack({});
    expect(kind.byName("kubernetes-mcp-server-process").inputs.environment.MCP_BIND_ADDRESS).toBe("kind-network");
    const existing = await runStack({ cluster: { mode: "existing", kubeconfig: writeTemp(FAKE_KUBECONFIG) } });
    expect(existing.byName("kubernetes-mcp-server-process").inputs.environment.MCP_BIND_ADDRESS).toBe("127.0.0.1");
    const chosen = await runStack({ mcpServer: { bindAddress: "172.18.0.1" } });
    expect(chosen.byName("kubernetes-mcp-server-process").inputs.environment.MCP_BIND_ADDRESS).toBe("172.18.0.1");
  });

  it("turns configuration_view off without auth, unless mcpServer.allowConfigurationView asks for it", async () => {
    const safe = await runStack({});
    expect(safe.byName("kubernetes-mcp-server-process").inputs.environment.MCP_DISABLED_TOOLS).toBe(
      "configuration_view",
    );
    const allowed = await runStack({ mcpServer: { allowConfigurationView: true } });
    expect(allowed.byName("kubernetes-mcp-server-process").inputs.environment.MCP_DISABLED_TOOLS).toBe("");
    expect(allowed.outputs.toolNames).toContain("kube_configuration_view");
    expect(allowed.outputs.toolNames).toHaveLength(22);
  });

  it("reads a kubeconfig given as a path once, and hands its contents to the provider and the MCP server", async () => {
    const file = writeTemp(FAKE_KUBECONFIG);
    const run = await runStack({ cluster: { mode: "existing", kubeconfig: file } });
    expect(run.byName("cluster-provider").inputs.kubeconfig).toBe(FAKE_KUBECONFIG);
    expect(run.byName("kubernetes-mcp-server-process").inputs.environment.MCP_KUBECONFIG).toBe(FAKE_KUBECONFIG);
  });

  it("follows a changed port into the process, the Service, the ServiceEntry and the route", async () => {
    const run = await runStack({ mcpServer: { port: 9777 } });
    expect(run.byName("kubernetes-mcp-server-process").inputs.environment.MCP_PORT).toBe("9777");
    expect(run.byName("kubernetes-mcp-external").inputs.spec.ports[0]).toMatchObject({ port: 9777, targetPort: 9777 });
    expect(run.byName("kubernetes-mcp-service-entry").inputs.spec.ports[0].number).toBe(9777);
    expect(run.byName("kubernetes-mcp-route").inputs.spec.rules[0].backendRefs[0].port).toBe(9777);
  });
});

describe("resource options the engine acts on", async () => {
  const kind = await runStack({});
  const existing = await runStack({ cluster: { mode: "existing", kubeconfig: FAKE_KUBECONFIG } });

  it("keeps the kubeconfig step's stdout a secret in state", () => {
    expect(kind.byName("cluster-kubeconfig").options.additionalSecretOutputs).toEqual(["stdout"]);
  });

  it("restarts the MCP server process (stop first) when any of its settings changes", () => {
    expect(kind.byName("kubernetes-mcp-server-process").options).toMatchObject({
      replaceOnChanges: expect.arrayContaining(["environment", "create"]),
      deleteBeforeReplace: true,
    });
  });

  it("replaces the MCPServer (the old one first: same name) when its immutable toolPrefix changes", () => {
    expect(kind.byName("kubernetes-mcp-mcp-server").options).toMatchObject({
      replaceOnChanges: ["spec.toolPrefix"],
      deleteBeforeReplace: true,
    });
  });

  it("tears a renamed Kind cluster down before it makes the new one", () => {
    expect(kind.byName("cluster-local-env").options).toMatchObject({
      replaceOnChanges: expect.arrayContaining(["environment"]),
      deleteBeforeReplace: true,
    });
    expect(kind.byName("cluster-local-env").inputs.environment).toEqual({ KIND_CLUSTER_NAME: "mcp-gateway" });
  });

  it("forgets unreachable objects only for a Kind cluster the stack tears down itself", () => {
    expect(kind.byName("cluster-provider").inputs.deleteUnreachable).toBe("true");
    expect(existing.byName("cluster-provider").inputs.deleteUnreachable).toBe("false");
  });

  it("protects and retains nothing: destroy takes back every resource", () => {
    for (const r of [...kind.resources, ...existing.resources]) {
      expect(r.options, r.name).toMatchObject({ protect: false, retainOnDelete: false });
    }
  });
});
