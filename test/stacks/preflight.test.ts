import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../stacks/config";
import { apiServerOf, endpoint, preflight, realProbes, type Probes } from "../../stacks/preflight";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://10.0.0.1:6443"}}
- {name: b, cluster: {server: "https://api.example.test"}}
contexts:
- {name: ctx-a, context: {cluster: a, user: u}}
- {name: ctx-b, context: {cluster: b, user: u}}
current-context: ctx-a
users: []
`;

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const probes = (over: Partial<Probes> = {}): Probes => ({
  reachable: async () => true,
  hasCommand: () => true,
  readFile: () => undefined,
  keycloakClients: async () => ({ descriptions: [] }),
  keycloakIssuer: async (login) => ({ issuer: `${login.url}/realms/${login.realm}`, grantTypes: [JWT_BEARER] }),
  clusterObject: async () => ({ found: false }),
  ...over,
});
const existing = (extra: Record<string, unknown> = {}) =>
  parseStackConfig({
    values: { cluster: { mode: "existing", kubeconfig: KUBECONFIG }, ...extra },
    // As the engine marks them when the secrets are set with --secret.
    secretKeys: ["cluster", "keycloak", "domains"],
  });

describe("preflight before up", () => {
  it("finds the API server of the current or the chosen context", () => {
    expect(apiServerOf(KUBECONFIG)).toBe("https://10.0.0.1:6443");
    expect(apiServerOf(KUBECONFIG, "ctx-b")).toBe("https://api.example.test");
    expect(endpoint("https://api.example.test")).toEqual({ host: "api.example.test", port: 443 });
  });

  it("passes when the cluster and Keycloak answer", async () => {
    expect(await preflight(existing(), KUBECONFIG, probes())).toEqual([]);
  });

  it("names the kubeconfig key and the server that does not answer, never the kubeconfig", async () => {
    const problems = await preflight(existing(), KUBECONFIG, probes({ reachable: async () => false }));
    expect(problems).toEqual([
      "mcp-gateway-stack:cluster.kubeconfig = (secret): its API server https://10.0.0.1:6443 is not reachable; start the cluster or fix the kubeconfig",
    ]);
  });

  it("refuses an object of the stack's names that no Pulumi program applied: destroy would delete it", async () => {
    const asked: string[] = [];
    const problems = await preflight(
      existing(),
      KUBECONFIG,
      probes({
        clusterObject: async (_k, _c, path) => {
          asked.push(path);
          if (path.endsWith("/httproutes/kubernetes-mcp"))
            return { found: true, managers: ["kubectl-client-side-apply"] };
          // Applied by a Pulumi program (this stack's earlier or killed run): its own.
          if (path.endsWith("/services/kubernetes-mcp-external"))
            return { found: true, managers: ["pulumi-kubernetes-f4c50795", "kube-controller-manager"] };
          return { found: false };
        },
      }),
    );
    expect(problems).toEqual([
      "mcp-gateway-stack:mcpServer.routeName = 'kubernetes-mcp': HTTPRoute mcp-test/kubernetes-mcp already exists on the cluster and no Pulumi program applied it (its field managers: kubectl-client-side-apply); this stack would take it over and delete it on destroy. Set mcpServer.routeName to another value, or delete that object first if it is a leftover",
    ]);
    expect(asked).toEqual([
      "/api/v1/namespaces/mcp-test/services/kubernetes-mcp-external",
      "/apis/gateway.networking.k8s.io/v1/namespaces/mcp-test/httproutes/kubernetes-mcp",
      "/apis/networking.istio.io/v1beta1/namespaces/mcp-test/serviceentries/kubernetes-mcp",
      "/apis/mcp.kagenti.com/v1alpha1/namespaces/mcp-test/mcpservers/kubernetes-mcp-server",
    ]);
  });

  it("checks the AuthPolicy and the binding too with OIDC, and Kuadrant's registration kind", async () => {
    const asked: string[] = [];
    const clusterObject = async (_k: string, _c: string | undefined, path: string) => {
      asked.push(path);
      return { found: false } as const;
    };
    const cfg = existing({
      useCase: "oidc",
      gateway: { release: "kuadrant-v0.9.0" },
      keycloak: { adminPassword: "pw" },
    });
    await preflight(cfg, KUBECONFIG, probes({ clusterObject }), "pw");
    expect(asked.slice(3)).toEqual([
      "/apis/mcp.kuadrant.io/v1/namespaces/mcp-test/mcpserverregistrations/kubernetes-mcp-server",
      "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-auth-policy",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-view",
    ]);
  });

  it("reports an unreachable Keycloak on an existing cluster", async () => {
    const cfg = existing({ useCase: "oidc", keycloak: { adminPassword: "pw" } });
    const problems = await preflight(
      cfg,
      KUBECONFIG,
      probes({ reachable: async (host) => host !== "keycloak.127-0-0-1.sslip.io" }),
    );
    expect(problems).toEqual([
      "mcp-gateway-stack:keycloak.url = 'https://keycloak.127-0-0-1.sslip.io:8002': Keycloak is not reachable there; start it or fix the URL",
    ]);
  });

  it.each<[string, Awaited<ReturnType<Probes["keycloakIssuer"]>>, string]>([
    [
      "a certificate that does not verify",
      { error: "self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)", tls: true },
      "mcp-gateway-stack:keycloak.rootCaCertificate = (not set: the system CAs): Keycloak's certificate at https://keycloak.127-0-0-1.sslip.io:8002 does not verify against it: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN); set keycloak.rootCaCertificate to the CA that signed it",
    ],
    [
      "an issuer other than the one the stack derives",
      { issuer: "https://sso.example.com/realms/mcp", grantTypes: [] },
      "mcp-gateway-stack:keycloak.url = 'https://keycloak.127-0-0-1.sslip.io:8002': the stack expects tokens issued by 'https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp', but realm 'mcp' names its issuer 'https://sso.example.com/realms/mcp'; set keycloak.url to the URL Keycloak calls itself (its hostname setting)",
    ],
    [
      "no such realm",
      { error: "it has no realm 'mcp' (discovery answered HTTP 404)" },
      "mcp-gateway-stack:keycloak.url = 'https://keycloak.127-0-0-1.sslip.io:8002': expected the OpenID discovery of realm 'mcp' at https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp/.well-known/openid-configuration; it has no realm 'mcp' (discovery answered HTTP 404); check keycloak.url and keycloak.realm",
    ],
  ])("reports %s from the realm's discovery, and does not log in as admin then", async (_, found, message) => {
    const cfg = existing({ useCase: "oidc", keycloak: { adminPassword: "pw" } });
    let loggedIn = false;
    const problems = await preflight(
      cfg,
      KUBECONFIG,
      probes({
        keycloakIssuer: async () => found,
        keycloakClients: async () => ((loggedIn = true), { descriptions: [] }),
      }),
      "pw",
    );
    expect(problems).toEqual([message]);
    expect(loggedIn).toBe(false);
  });

  it.each<[string, "create" | "reference", Awaited<ReturnType<Probes["keycloakClients"]>>, string]>([
    [
      "create on a realm that already has the client",
      "create",
      { descriptions: [""] },
      "mcp-gateway-stack:keycloak.existingObjects = 'create': realm 'mcp' already has client 'mcp-test/kubernetes-mcp' (gateway commits from e0d3f99 on import it with its roles and group); set keycloak.existingObjects to 'reference' to adopt them",
    ],
    [
      "reference on a realm without the client",
      "reference",
      { descriptions: [] },
      "mcp-gateway-stack:keycloak.existingObjects = 'reference': realm 'mcp' has no client 'mcp-test/kubernetes-mcp' to adopt; set keycloak.existingObjects to 'create'",
    ],
    [
      "a refused admin login",
      "create",
      { error: "the admin login of 'admin' was refused (HTTP 401)" },
      "mcp-gateway-stack:keycloak.adminPassword = (secret): Keycloak at https://keycloak.127-0-0-1.sslip.io:8002 could not be asked for client 'mcp-test/kubernetes-mcp': the admin login of 'admin' was refused (HTTP 401); check keycloak.adminUser, keycloak.adminPassword, keycloak.realm and keycloak.rootCaCertificate",
    ],
  ])("stops on %s before anything is created", async (_what, existingObjects, found, message) => {
    const cfg = existing({ useCase: "oidc", keycloak: { adminPassword: "pw-in-clear", existingObjects } });
    const asked: Array<[string, string]> = [];
    const problems = await preflight(
      cfg,
      KUBECONFIG,
      probes({ keycloakClients: async (login, clientId) => (asked.push([login.adminPassword, clientId]), found) }),
      "pw-in-clear",
      "dev",
    );
    expect(asked).toEqual([["pw-in-clear", "mcp-test/kubernetes-mcp"]]);
    expect(problems).toEqual([message]);
    expect(problems.join("")).not.toContain("pw-in-clear");
  });

  it("lets create through when the client found is the one this stack made (its second up)", async () => {
    const cfg = existing({ useCase: "oidc", keycloak: { adminPassword: "pw" } });
    const mine = { descriptions: ["Managed by Pulumi stack mcp-gateway-stack/dev"] };
    expect(await preflight(cfg, KUBECONFIG, probes({ keycloakClients: async () => mine }), "pw", "dev")).toEqual([]);
    const other = { descriptions: ["Managed by Pulumi stack mcp-gateway-stack/prod"] };
    expect(await preflight(cfg, KUBECONFIG, probes({ keycloakClients: async () => other }), "pw", "dev")).toHaveLength(
      1,
    );
  });

  it("reads a kubeconfig given as a path", async () => {
    const seen: string[] = [];
    const cfg = parseStackConfig({ values: { cluster: { mode: "existing", kubeconfig: "/home/u/.kube/config" } } });
    await preflight(
      cfg,
      "/home/u/.kube/config",
      probes({ readFile: () => KUBECONFIG, reachable: async (h, p) => (seen.push(`${h}:${p}`), true) }),
    );
    expect(seen).toEqual(["10.0.0.1:6443"]);
  });

  it("names the key and the path of a kubeconfig file that does not exist", async () => {
    const cfg = parseStackConfig({ values: { cluster: { mode: "existing", kubeconfig: "/home/u/.kube/missing" } } });
    expect(await preflight(cfg, "/home/u/.kube/missing", probes())).toEqual([
      "mcp-gateway-stack:cluster.kubeconfig = '/home/u/.kube/missing': expected a kubeconfig file, but the file does not exist; fix the path, or set the kubeconfig's contents: pulumi config set --secret --path cluster.kubeconfig \"$(cat ~/.kube/config)\"",
    ]);
  });

  it("names a further cluster's kubeconfig file that does not exist", async () => {
    const cfg = existing({
      useCase: "cross-domain",
      keycloak: { adminPassword: "pw" },
      domains: [{ name: "b", realm: "cluster-b", kubeconfig: "b.kubeconfig", port: 9992, host: "b.example.test" }],
    });
    expect(await preflight(cfg, KUBECONFIG, probes(), "pw", "dev", ["b.kubeconfig"])).toEqual([
      `mcp-gateway-stack:domains[0].kubeconfig = 'b.kubeconfig': expected a kubeconfig file, but the file does not exist (relative to ${process.cwd()}); fix the path, or set the kubeconfig's contents: pulumi config set --secret --path 'domains[0].kubeconfig' "$(cat b.kubeconfig)"`,
    ]);
  });

  it("asks for kind and docker or podman for a further cluster in kind mode, and for no kubeconfig of it", async () => {
    const cfg = existing({
      useCase: "cross-domain",
      keycloak: { adminPassword: "pw" },
      domains: [{ name: "b", realm: "cluster-b", cluster: { mode: "kind" }, port: 9992, host: "b.example.test" }],
    });
    const without = probes({ hasCommand: (c) => c === "git" || c === "make" });
    expect(await preflight(cfg, KUBECONFIG, without, "pw", "dev", [undefined])).toEqual([
      "mcp-gateway-stack:domains[0].cluster.mode = 'kind': needs 'kind' on PATH (the stack creates that Kind cluster)",
      "mcp-gateway-stack:domains[0].cluster.mode = 'kind': needs 'docker' or 'podman' on PATH to run the Kind cluster",
    ]);
    const withPodman = probes({ hasCommand: (c) => c === "kind" || c === "podman" });
    expect(await preflight(cfg, KUBECONFIG, withPodman, "pw", "dev", [undefined])).toEqual([]);
  });

  it("asks for git, make and docker or podman in kind mode", async () => {
    const cfg = parseStackConfig({ values: {} });
    const problems = await preflight(cfg, undefined, probes({ hasCommand: (c) => c === "git" }));
    expect(problems).toEqual([
      "mcp-gateway-stack:cluster.mode = 'kind': needs 'make' on PATH (the gateway's make targets run it)",
      "mcp-gateway-stack:cluster.mode = 'kind': needs 'docker' or 'podman' on PATH to run the Kind cluster",
    ]);
  });

  it("asks Keycloak for the client the gateway release names: the route's (kagenti) or the registration's (Kuadrant)", async () => {
    const asked: string[] = [];
    const probe = probes({ keycloakClients: async (_, clientId) => (asked.push(clientId), { descriptions: [] }) });
    const oidc = { useCase: "oidc", keycloak: { adminPassword: "pw" } };
    await preflight(existing(oidc), KUBECONFIG, probe, "pw");
    await preflight(existing({ ...oidc, gateway: { release: "kuadrant-v0.9.0" } }), KUBECONFIG, probe, "pw");
    expect(asked).toEqual(["mcp-test/kubernetes-mcp", "mcp-test/kubernetes-mcp-server"]);
  });

  it("probes for real: an open loopback port answers, a closed one does not", async () => {
    const server = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as net.AddressInfo).port;
    expect(await realProbes.reachable("127.0.0.1", port)).toBe(true);
    server.close();
    await new Promise((r) => server.once("close", r));
    expect(await realProbes.reachable("127.0.0.1", port)).toBe(false);
    expect(realProbes.hasCommand("sh")).toBe(true);
    expect(realProbes.hasCommand("no-such-command-here")).toBe(false);
  });

  describe("use case 3: each further cluster", () => {
    const KUBECONFIG_B = KUBECONFIG.replace("10.0.0.1:6443", "10.0.0.2:6443");
    const crossDomain = existing({
      useCase: "cross-domain",
      keycloak: { adminPassword: "pw" },
      domains: [{ name: "b", realm: "cluster-b", kubeconfig: KUBECONFIG_B, port: 9992, host: "b.example.test" }],
    });
    const realmB = "https://keycloak.127-0-0-1.sslip.io:8002/realms/cluster-b";

    it("passes when its API server answers and its realm offers the JWT authorization grant", async () => {
      expect(await preflight(crossDomain, KUBECONFIG, probes(), "pw", "dev", [KUBECONFIG_B])).toEqual([]);
    });

    it.each<[string, Partial<Probes>, string]>([
      [
        "its API server does not answer",
        { reachable: async (host) => host !== "10.0.0.2" },
        "mcp-gateway-stack:domains[0].kubeconfig = (secret): its API server https://10.0.0.2:6443 is not reachable; start the cluster or fix the kubeconfig",
      ],
      [
        "Keycloak has no such realm",
        {
          keycloakIssuer: async (login) =>
            login.realm === "cluster-b"
              ? { error: "it has no realm 'cluster-b' (discovery answered HTTP 404)" }
              : { issuer: `${login.url}/realms/${login.realm}`, grantTypes: [] },
        },
        "mcp-gateway-stack:domains[0].realm = 'cluster-b': expected a realm of Keycloak at https://keycloak.127-0-0-1.sslip.io:8002; it has no realm 'cluster-b' (discovery answered HTTP 404)",
      ],
      [
        "Keycloak runs without the jwt-authorization-grant feature",
        {
          keycloakIssuer: async (login) => ({ issuer: `${login.url}/realms/${login.realm}`, grantTypes: ["password"] }),
        },
        `mcp-gateway-stack:domains[0].realm = 'cluster-b': Keycloak at https://keycloak.127-0-0-1.sslip.io:8002 does not offer the JWT authorization grant (${JWT_BEARER}); use Keycloak 26.7 or newer, or 26.5/26.6 built and started with --features=jwt-authorization-grant (README, use case 3)`,
      ],
      [
        "its realm names another issuer",
        {
          keycloakIssuer: async (login) => ({
            issuer:
              login.realm === "cluster-b"
                ? "https://sso.example.com/realms/cluster-b"
                : `${login.url}/realms/${login.realm}`,
            grantTypes: [JWT_BEARER],
          }),
        },
        `mcp-gateway-stack:domains[0].realm = 'cluster-b': the stack expects tokens issued by '${realmB}', but the realm names its issuer 'https://sso.example.com/realms/cluster-b'`,
      ],
    ])("names the key when %s", async (_, over, message) => {
      expect(await preflight(crossDomain, KUBECONFIG, probes(over), "pw", "dev", [KUBECONFIG_B])).toEqual([message]);
    });
  });
});
