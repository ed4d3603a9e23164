import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_KEYS, ConfigError, loadStackConfig, parseStackConfig, PROJECT } from "../stacks/config";
import { guideKeycloak } from "./support/guide";
import { REPO_ROOT } from "./support/pulumiHarness";

/** The engine marks keycloak secret when its password is set, as it must be, with --secret. */
const secretKeysOf = (values: Record<string, any>) =>
  values.keycloak?.adminPassword === undefined ? [] : ["keycloak"];

const problemsOf = (values: Record<string, unknown>, secretKeys = secretKeysOf(values)): string[] => {
  try {
    parseStackConfig({ values, secretKeys });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

const oidc = { useCase: "oidc", keycloak: { adminPassword: "pw" } };
const DOMAIN_B = { name: "b", realm: "cluster-b", kubeconfig: "kubeconfig-b", port: 9992, host: "b.example.test" };
const crossDomain = { ...oidc, useCase: "cross-domain", domains: [DOMAIN_B] };

describe("config validation", () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      "an unknown use case",
      { useCase: "federated" },
      "mcp-gateway-stack:useCase = 'federated': expected one of no-auth, oidc, cross-domain",
    ],
    [
      "a port above 65535",
      { mcpServer: { port: 70000 } },
      "mcp-gateway-stack:mcpServer.port = 70000: expected an integer port from 1 to 65535",
    ],
    [
      "a port of 0",
      { gateway: { listenerPort: 0 } },
      "mcp-gateway-stack:gateway.listenerPort = 0: expected an integer port from 1 to 65535",
    ],
    [
      "a port that is not a number",
      { gateway: { publicPort: "http" } },
      "mcp-gateway-stack:gateway.publicPort = 'http': expected an integer port from 1 to 65535",
    ],
    [
      "a host that is not a DNS name",
      { mcpServer: { host: "Host_Containers!" } },
      "mcp-gateway-stack:mcpServer.host = 'Host_Containers!': expected a DNS name (lower-case letters, digits, '-' and '.';",
    ],
    [
      "a namespace that is not a DNS label",
      { mcpServer: { namespace: "mcp.test" } },
      "mcp-gateway-stack:mcpServer.namespace = 'mcp.test': expected a DNS label (lower-case letters, digits and '-', at most 63)",
    ],
    [
      "a Keycloak user name with a space (it names the ClusterRoleBinding; the keycloak group is secret, so no value shown)",
      { useCase: "oidc", keycloak: { adminPassword: "pw", username: "mcp user" } },
      "mcp-gateway-stack:keycloak.username = (value not shown): expected a Keycloak user name of lower-case letters, digits, '.', '_', '@' and '-' (no spaces: it names the ClusterRoleBinding oidc-<username>-<clusterRole>)",
    ],
    [
      "a namespace over 63 characters",
      { mcpServer: { namespace: "n".repeat(64) } },
      `mcp-gateway-stack:mcpServer.namespace = '${"n".repeat(64)}': expected a DNS label (lower-case letters, digits and '-', at most 63)`,
    ],
    [
      "a host with a part over 63 characters",
      { mcpServer: { host: `${"h".repeat(64)}.example.test` } },
      `mcp-gateway-stack:mcpServer.host = '${"h".repeat(64)}.example.test': expected a DNS name (lower-case letters, digits, '-' and '.'; at most 253, each part between dots at most 63)`,
    ],
    [
      "a route name over 253 characters",
      { mcpServer: { routeName: `${"r".repeat(60)}.`.repeat(4) + "r".repeat(10) } },
      "mcp-gateway-stack:mcpServer.routeName = 'rrrr",
    ],
    [
      "a further cluster whose Service name would pass 63 characters",
      { ...crossDomain, domains: [{ ...DOMAIN_B, name: "b".repeat(40) }] },
      `mcp-gateway-stack:domains[0].name = '${"b".repeat(40)}': expected a name of at most 39 characters: its Service is named '<mcpServer.serviceName>-<name>' ('kubernetes-mcp-external-${"b".repeat(40)}'), a DNS label of at most 63`,
    ],
    [
      "a tool prefix without a trailing '_'",
      { mcpServer: { toolPrefix: "kube" } },
      "mcp-gateway-stack:mcpServer.toolPrefix = 'kube': expected lower-case letters, digits and '_', starting with a letter or digit and ending in '_' (such as 'kube_': tool names read kube_namespaces_list)",
    ],
    [
      "a further cluster's tool prefix without a trailing '_'",
      { ...crossDomain, domains: [{ ...DOMAIN_B, toolPrefix: "kube_b" }] },
      "mcp-gateway-stack:domains[0].toolPrefix = 'kube_b': expected lower-case letters, digits and '_', starting with a letter or digit and ending in '_'",
    ],
    [
      "cross-domain without any further cluster",
      { useCase: "cross-domain", keycloak: { adminPassword: "pw" } },
      "mcp-gateway-stack:domains = undefined: expected a list of clusters besides the gateway's when useCase is 'cross-domain': pulumi config set --path 'domains[0].name' b (and realm, kubeconfig or cluster.mode kind, port, host)",
    ],
    [
      "an unknown tool name",
      { ...oidc, mcpServer: { tools: ["pods_list", "pods_explode"] } },
      "mcp-gateway-stack:mcpServer.tools = 'pods_explode': expected tool names from: ",
    ],
    [
      "tools that the configured toolsets do not serve",
      { mcpServer: { toolsets: ["core", "config"] } },
      'mcp-gateway-stack:mcpServer.tools = ["helm_install","helm_list","helm_uninstall"]: expected tools the server serves with mcpServer.toolsets (core,config); add the toolset helm or drop the tool',
    ],
    [
      "an unknown toolset",
      { mcpServer: { toolsets: ["core", "openshift"] } },
      "mcp-gateway-stack:mcpServer.toolsets = 'openshift': expected toolset names from: config, core, helm",
    ],
    [
      "a missing admin password for oidc",
      { useCase: "oidc" },
      "mcp-gateway-stack:keycloak.adminPassword = undefined: expected the Keycloak admin password when useCase is 'oidc' or 'cross-domain': pulumi config set --secret --path keycloak.adminPassword <password>",
    ],
    [
      "no kubeconfig for an existing cluster",
      { cluster: { mode: "existing" } },
      "mcp-gateway-stack:cluster.kubeconfig = undefined: expected a kubeconfig (contents or path) when cluster.mode is 'existing'",
    ],
    [
      "an unknown cluster mode",
      { cluster: { mode: "minikube" } },
      "mcp-gateway-stack:cluster.mode = 'minikube': expected one of kind, existing",
    ],
    [
      "a misspelt key",
      { mcpServer: { prot: 9999 } },
      "mcp-gateway-stack:mcpServer.prot = (value not shown): expected a known key of 'mcpServer'",
    ],
    [
      "an unknown top-level key",
      { keycloack: {} },
      "mcp-gateway-stack:keycloack = (value not shown): expected one of the keys useCase, cluster, mcpServer, gateway, keycloak, oidc",
    ],
    [
      "a group given as a string",
      { gateway: "mcp-gateway" },
      "mcp-gateway-stack:gateway = (value not shown): expected an object",
    ],
    [
      "a Keycloak URL with a path",
      { ...oidc, keycloak: { adminPassword: "pw", url: "https://kc.example.com/auth/" } },
      "mcp-gateway-stack:keycloak.url = (value not shown): expected an https URL of only a host and optional port, such as https://keycloak.example.com:8443 (no user info, path, query, fragment or trailing slash: the issuer is <url>/realms/<realm>)",
    ],
    [
      "an unknown existing-objects mode",
      { ...oidc, keycloak: { adminPassword: "pw", existingObjects: "adopt-all" } },
      "mcp-gateway-stack:keycloak.existingObjects = (value not shown): expected one of create, reference",
    ],
    [
      "a CA that is not PEM",
      { ...oidc, keycloak: { adminPassword: "pw", rootCaCertificate: "abc" } },
      "mcp-gateway-stack:keycloak.rootCaCertificate = (value not shown): expected a PEM certificate",
    ],
    [
      "skipping TLS while giving a CA",
      {
        ...oidc,
        keycloak: {
          adminPassword: "pw",
          tlsInsecureSkipVerify: true,
          rootCaCertificate: "-----BEGIN CERTIFICATE-----",
        },
      },
      "mcp-gateway-stack:keycloak.tlsInsecureSkipVerify = (value not shown): expected false when keycloak.rootCaCertificate is set",
    ],
    [
      "cluster-admin while it is not allowed",
      { ...oidc, oidc: { clusterRole: "cluster-admin" } },
      "mcp-gateway-stack:oidc.clusterRole = 'cluster-admin': expected a ClusterRole other than cluster-admin while oidc.allowClusterAdmin is false",
    ],
    [
      "a duplicated tool",
      { ...oidc, mcpServer: { tools: ["pods_list", "pods_list"] } },
      'mcp-gateway-stack:mcpServer.tools = ["pods_list"]: expected tool names without duplicates',
    ],
    [
      "a tool prefix with upper case",
      { mcpServer: { toolPrefix: "Kube-" } },
      "mcp-gateway-stack:mcpServer.toolPrefix = 'Kube-': expected lower-case letters, digits and '_'",
    ],
    [
      "cross-domain without a further cluster",
      { ...crossDomain, domains: [] },
      "mcp-gateway-stack:domains = (value not shown): expected at least one cluster besides the gateway's when useCase is 'cross-domain'",
    ],
    [
      "a further cluster without its kubeconfig",
      { ...crossDomain, domains: [{ ...DOMAIN_B, kubeconfig: undefined }] },
      "mcp-gateway-stack:domains[0].kubeconfig = undefined: expected the cluster's kubeconfig (contents or path)",
    ],
    [
      "a further cluster on the gateway cluster's server port",
      { ...crossDomain, domains: [{ ...DOMAIN_B, port: 9999 }] },
      "mcp-gateway-stack:domains[0].port = 9999: expected a port of its own (mcpServer and keycloak.realm are the gateway cluster's",
    ],
    [
      "a further cluster in the gateway's realm",
      { ...crossDomain, domains: [{ ...DOMAIN_B, realm: "mcp" }] },
      "mcp-gateway-stack:domains[0].realm = 'mcp': expected a realm of its own",
    ],
    [
      "two further clusters with one name",
      {
        ...crossDomain,
        domains: [DOMAIN_B, { ...DOMAIN_B, realm: "c", port: 9993, host: "c.example.test", toolPrefix: "kube_c_" }],
      },
      "mcp-gateway-stack:domains[1].name = 'b': expected a name of its own",
    ],
    [
      "a further cluster with a port that is no port",
      { ...crossDomain, domains: [{ ...DOMAIN_B, port: "http" }] },
      "mcp-gateway-stack:domains[0].port = 'http': expected an integer port from 1 to 65535",
    ],
  ])("rejects %s with a message naming the key, the value and what is allowed", (_what, values, message) => {
    const problems = problemsOf(values);
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(message), `${problems[0]}\n  does not start with\n${message}`).toBe(true);
  });

  it.each([
    "http://kc.example.com",
    "https://kc.example.com/",
    "https://kc.example.com?tenant=a",
    "https://kc.example.com#x",
    "https://kc.example.com?",
    "https://admin@kc.example.com",
    "https://admin:pw@kc.example.com:8443",
  ])("refuses the Keycloak URL %s: the issuer, the binding and the AuthPolicy are built from it", (url) => {
    const problems = problemsOf({ ...oidc, keycloak: { adminPassword: "pw", url } });
    expect(problems).toEqual([
      expect.stringMatching(/^mcp-gateway-stack:keycloak\.url = .*: expected an https URL of only a host/),
    ]);
  });

  it("takes a Keycloak URL of a host and port", () => {
    const cfg = parseStackConfig({
      values: { ...oidc, keycloak: { adminPassword: "pw", url: "https://kc.example.com:8443" } },
      secretKeys: ["keycloak"],
    });
    expect(cfg.keycloak?.url).toBe("https://kc.example.com:8443");
  });

  it("shows a Keycloak URL's user info as *** in the error, never its password", () => {
    // Shown only while keycloak is not secret: here its admin password is in clear too.
    const values = { ...oidc, keycloak: { adminPassword: "pw", url: "http://admin:pw-in-clear@kc.example.com/x" } };
    const problems = problemsOf(values, []);
    expect(problems.join("\n")).not.toContain("pw-in-clear");
    expect(problems).toContainEqual(
      expect.stringContaining("keycloak.url = 'http://***@kc.example.com/x': expected an https URL"),
    );
  });

  it("refuses an admin password set without --secret, with the command that sets it secret", () => {
    expect(problemsOf({ useCase: "oidc", keycloak: { adminPassword: "pw-in-clear" } }, [])).toEqual([
      "mcp-gateway-stack:keycloak.adminPassword = (value not shown): expected a secret, not a value in clear in Pulumi.<stack>.yaml: pulumi config set --secret --path keycloak.adminPassword <password>",
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      "cluster.kubeconfig",
      { cluster: { mode: "existing", kubeconfig: "apiVersion: v1\nkind: Config\n" } },
      'mcp-gateway-stack:cluster.kubeconfig = (value not shown): expected kubeconfig contents set as a secret, not in clear in Pulumi.<stack>.yaml (a path may stay in clear): pulumi config set --secret --path cluster.kubeconfig "$(cat ~/.kube/config)"',
    ],
    [
      "domains[0].kubeconfig",
      { ...crossDomain, domains: [{ ...DOMAIN_B, kubeconfig: '{"apiVersion":"v1","kind":"Config"}' }] },
      "mcp-gateway-stack:domains[0].kubeconfig = (value not shown): expected kubeconfig contents set as a secret, not in clear in Pulumi.<stack>.yaml (a path may stay in clear): pulumi config set --secret --path 'domains[0].kubeconfig' \"$(cat b.kubeconfig)\"",
    ],
  ])("refuses kubeconfig contents in %s set without --secret", (_key, values, message) => {
    expect(problemsOf(values, secretKeysOf(values))).toEqual([message]);
  });

  it("takes a kubeconfig path in clear: a path is not sensitive", () => {
    const values = { ...crossDomain, cluster: { mode: "existing", kubeconfig: "/home/u/.kube/config" } };
    expect(problemsOf(values, ["keycloak"])).toEqual([]);
  });

  it("takes kubeconfig contents set with --secret", () => {
    const values = { ...crossDomain, cluster: { mode: "existing", kubeconfig: "apiVersion: v1\nkind: Config\n" } };
    const domains = [{ ...DOMAIN_B, kubeconfig: "apiVersion: v1\nkind: Config\n" }];
    expect(problemsOf({ ...values, domains }, ["keycloak", "cluster", "domains"])).toEqual([]);
  });

  it("reads a further cluster with its defaults, and its kubeconfig as a secret", async () => {
    const cfg = parseStackConfig({ values: crossDomain, secretKeys: ["keycloak"] });
    if (cfg.useCase !== "cross-domain") throw new Error("not cross-domain");
    expect(cfg.domains).toHaveLength(1);
    expect({ ...cfg.domains[0], kubeconfig: undefined }).toEqual({
      ...DOMAIN_B,
      cluster: { mode: "existing" },
      kubeconfig: undefined,
      context: undefined,
      clusterIdentifier: "domain-b",
      toolPrefix: "kube_b_",
    });
    expect(await pulumi.isSecret(cfg.domains[0].kubeconfig!)).toBe(true);
  });

  it("reads a further cluster in kind mode without a kubeconfig: its Kind cluster is mcp-<name> unless named", () => {
    const { kubeconfig: _, ...withoutKubeconfig } = DOMAIN_B;
    const c = { ...withoutKubeconfig, name: "c", realm: "cluster-c", port: 9993, host: "c.example.test" };
    const domains = [
      { ...withoutKubeconfig, cluster: { mode: "kind" } },
      { ...c, cluster: { mode: "kind", name: "kind-c" } },
    ];
    const cfg = parseStackConfig({ values: { ...crossDomain, domains }, secretKeys: ["keycloak"] });
    if (cfg.useCase !== "cross-domain") throw new Error("not cross-domain");
    expect(cfg.domains.map((d) => [d.cluster, d.kubeconfig, d.clusterIdentifier])).toEqual([
      [{ mode: "kind", name: "mcp-b" }, undefined, "kind-mcp-b"],
      [{ mode: "kind", name: "kind-c" }, undefined, "kind-kind-c"],
    ]);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    [
      "a further cluster's cluster.mode that is no mode",
      { mode: "kubeadm" },
      ["mcp-gateway-stack:domains[0].cluster.mode = 'kubeadm': expected one of existing, kind"],
    ],
    [
      "a further cluster's Kind cluster name that is no DNS label",
      { mode: "kind", name: "B_cluster" },
      [
        "mcp-gateway-stack:domains[0].cluster.name = 'B_cluster': expected a DNS label (lower-case letters, digits and '-', at most 63)",
      ],
    ],
    [
      "a Kind cluster name for an existing cluster",
      { mode: "existing", name: "mcp-b" },
      [
        "mcp-gateway-stack:domains[0].cluster.name = 'mcp-b': expected no name unless mode is 'kind' (the name of the Kind cluster the stack creates)",
      ],
    ],
    [
      "a further cluster's Kind cluster named as the gateway's",
      { mode: "kind", name: "mcp-gateway" },
      [
        "mcp-gateway-stack:domains[0].cluster.name = 'mcp-gateway': expected a Kind cluster name of its own (cluster.name of the gateway's cluster and of every further cluster in kind mode differ)",
      ],
    ],
    [
      "an unknown key under a further cluster's cluster",
      { mode: "kind", kubeconfig: "x" },
      [
        "mcp-gateway-stack:domains[0].cluster.kubeconfig = (value not shown): expected a known key of 'domains[].cluster' (mode, name)",
      ],
    ],
  ])("rejects %s", (_what, cluster, expected) => {
    const { kubeconfig: _, ...withoutKubeconfig } = DOMAIN_B;
    expect(problemsOf({ ...crossDomain, domains: [{ ...withoutKubeconfig, cluster }] })).toEqual(expected);
  });

  it("rejects a kubeconfig or context for a further cluster in kind mode, without showing the kubeconfig", () => {
    expect(problemsOf({ ...crossDomain, domains: [{ ...DOMAIN_B, cluster: { mode: "kind" } }] })).toEqual([
      "mcp-gateway-stack:domains[0].kubeconfig = (value not shown): expected no kubeconfig or context when cluster.mode is 'kind': the stack creates that Kind cluster and reads its kubeconfig from Kind",
    ]);
    const { kubeconfig: _, ...withoutKubeconfig } = DOMAIN_B;
    expect(
      problemsOf({ ...crossDomain, domains: [{ ...withoutKubeconfig, context: "b", cluster: { mode: "kind" } }] }),
    ).toEqual([
      "mcp-gateway-stack:domains[0].kubeconfig = undefined: expected no kubeconfig or context when cluster.mode is 'kind': the stack creates that Kind cluster and reads its kubeconfig from Kind",
    ]);
  });

  it("rejects two further Kind clusters of one name, and a default name over 63 characters", () => {
    const { kubeconfig: _, ...b } = DOMAIN_B;
    const c = {
      ...b,
      name: "c",
      realm: "cluster-c",
      port: 9993,
      host: "c.example.test",
      cluster: { mode: "kind", name: "mcp-b" },
    };
    expect(problemsOf({ ...crossDomain, domains: [{ ...b, cluster: { mode: "kind" } }, c] })).toEqual([
      "mcp-gateway-stack:domains[1].cluster.name = 'mcp-b': expected a Kind cluster name of its own (cluster.name of the gateway's cluster and of every further cluster in kind mode differ)",
    ]);
    const long = "x".repeat(60);
    const problems = problemsOf({
      ...crossDomain,
      mcpServer: { serviceName: "s", routeName: "r", serverName: "m" },
      domains: [{ ...b, name: long, cluster: { mode: "kind" } }],
    });
    expect(problems).toEqual([
      `mcp-gateway-stack:domains[0].cluster.name = 'mcp-${long}': expected a Kind cluster name of at most 63 characters (set cluster.name)`,
    ]);
  });

  it("reports every bad value at once", () => {
    const problems = problemsOf({
      useCase: "oidc",
      mcpServer: { port: -1, host: "a b" },
      cluster: { mode: "existing" },
    });
    expect(problems.map((p) => p.split(" = ")[0])).toEqual([
      "mcp-gateway-stack:cluster.kubeconfig",
      "mcp-gateway-stack:mcpServer.port",
      "mcp-gateway-stack:mcpServer.host",
      "mcp-gateway-stack:keycloak.adminPassword",
    ]);
  });

  it("never puts a secret value into an error message", () => {
    const problems = problemsOf({ ...oidc, keycloak: { adminPassword: "pw-in-clear", url: "nope" } });
    expect(problems.join("\n")).not.toContain("pw-in-clear");
  });

  it.each<[string, Record<string, unknown>]>([
    ["a misspelt admin password key", { ...oidc, keycloak: { adminPassword: "pw", adminPasword: "pw-in-clear" } }],
    ["a misspelt kubeconfig key", { cluster: { mode: "kind", kubeconfg: "token: pw-in-clear" } }],
    ["an admin password that is not a string", { useCase: "oidc", keycloak: { adminPassword: ["pw-in-clear"] } }],
    ["a secret group given as a string", { keycloak: "adminPassword: pw-in-clear" }],
    ["a misspelt top-level key holding a secret", { keycloakk: { adminPassword: "pw-in-clear" } }],
    [
      "a further cluster's kubeconfig that is not a string",
      { ...crossDomain, domains: [{ ...DOMAIN_B, kubeconfig: ["pw-in-clear"] }] },
    ],
    ["a further cluster given as a string", { ...crossDomain, domains: ["kubeconfig: pw-in-clear"] }],
  ])("names but never prints the value of %s", (_what, values) => {
    const problems = problemsOf(values);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).not.toContain("pw-in-clear");
    expect(problems.join("\n")).toContain("(value not shown)");
  });

  it.each([
    ["cluster.ref", { cluster: { ref: "--upload-pack=touch /tmp/pwned" } }],
    ["cluster.repoUrl", { cluster: { repoUrl: "--upload-pack=touch /tmp/pwned" } }],
  ])("refuses a %s that git would read as an option", (key, values) => {
    expect(problemsOf(values)).toEqual([expect.stringContaining(`mcp-gateway-stack:${key} = '--upload-pack`)]);
  });

  it("accepts ports and booleans given as the strings `pulumi config set` stores", () => {
    const cfg = parseStackConfig({ values: { mcpServer: { port: "9998", manage: "false" } } });
    expect(cfg.mcpServer).toMatchObject({ port: 9998, manage: false });
  });

  it("reproduces the guide with only the use case set", () => {
    const cfg = parseStackConfig({ values: oidc, secretKeys: ["keycloak"] });
    expect(cfg.mcpServer).toMatchObject({
      port: 9999,
      host: "host.containers.internal",
      toolPrefix: "kube_",
      namespace: "mcp-test",
      routeName: "kubernetes-mcp",
    });
    expect(cfg.mcpServer.tools).toEqual(guideKeycloak.roles);
    expect(cfg.mcpServer.toolsets).toEqual(["core", "config", "helm"]);
    expect(cfg.gateway).toMatchObject({
      name: "mcp-gateway",
      namespace: "gateway-system",
      listenerPort: 8080,
      publicPort: 8001,
    });
    expect(cfg.keycloak).toMatchObject({
      realm: "mcp",
      group: "engineering",
      username: "mcp",
      tlsInsecureSkipVerify: false,
    });
    expect(cfg.oidc).toMatchObject({ clusterRole: "view", allowClusterAdmin: false });
    expect(cfg.cluster).toMatchObject({ mode: "kind", clusterIdentifier: "kind-mcp-gateway" });
  });

  it("ignores the keycloak and oidc groups in no-auth", () => {
    const cfg = parseStackConfig({ values: { keycloak: { url: "not validated here" } } });
    expect(cfg.keycloak).toBeUndefined();
  });
});

describe("config sources", () => {
  it("declares in Pulumi.yaml exactly the schema's keys, typed, described and with empty defaults", () => {
    // The schema is the one place values default; Pulumi refuses a stack that leaves a declared key
    // without a default unset, so each is declared with an empty one.
    const declared = parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")).config;
    expect(Object.keys(declared)).toEqual(CONFIG_KEYS);
    for (const key of CONFIG_KEYS) {
      const { type, description, default: empty, ...rest } = declared[key];
      // Pulumi refuses an array key that does not name its items' type.
      expect(rest, key).toEqual(key === "domains" ? { items: { type: "object" } } : {});
      expect(description, key).toEqual(expect.any(String));
      expect({ type, default: empty }, key).toEqual(
        key === "useCase"
          ? { type: "string", default: "" }
          : key === "domains"
            ? { type: "array", default: [] }
            : { type: "object", default: {} },
      );
    }
  });

  it("sets in the dev stack file only what differs from the defaults", () => {
    const dev = parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")).config as Record<string, any>;
    const defaults: Record<string, any> = parseStackConfig({
      values: { useCase: "oidc", keycloak: { adminPassword: "x" } },
      secretKeys: ["keycloak"],
    });
    expect(Object.keys(dev).length).toBeGreaterThan(0);
    for (const [fullKey, value] of Object.entries(dev)) {
      const key = fullKey.split(":")[1];
      if (typeof value !== "object") expect(value, key).not.toEqual(defaults[key]);
      // cluster's checkout fields (repoUrl, ref, dir, name) come back under cluster.kind.
      else
        for (const [field, v] of Object.entries(value))
          expect(v, `${key}.${field}`).not.toEqual(defaults[key][field] ?? defaults[key].kind?.[field]);
    }
  });

  it("keeps the dev stack file free of secrets and valid", () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8");
    expect(text).not.toMatch(/^\s*(adminPassword|kubeconfig):|secure:/m);
    const values = Object.fromEntries(
      Object.entries(parse(text).config as Record<string, unknown>).map(([k, v]) => [k.split(":")[1], v]),
    );
    expect(() => parseStackConfig({ values })).not.toThrow();
    expect(() =>
      parseStackConfig({
        values: { ...values, useCase: "oidc", keycloak: { ...(values.keycloak as object), adminPassword: "x" } },
        secretKeys: ["keycloak"],
      }),
    ).not.toThrow();
  });

  it("reads the engine's config and stops with a RunError that lists the problems", async () => {
    await pulumi.runtime.setMocks(
      { newResource: () => ({ id: "x", state: {} }), call: () => ({}) },
      "mcp-gateway-stack",
      "dev",
    );
    pulumi.runtime.setAllConfig({
      "mcp-gateway-stack:useCase": "oidc",
      "mcp-gateway-stack:mcpServer": JSON.stringify({ port: 0 }),
      "other:key": "ignored",
    });
    expect(() => loadStackConfig()).toThrowError(pulumi.RunError);
    expect(() => loadStackConfig()).toThrowError(/mcpServer\.port = 0[\s\S]*keycloak\.adminPassword/);
    pulumi.runtime.setAllConfig(
      { "mcp-gateway-stack:useCase": "oidc", "mcp-gateway-stack:keycloak": JSON.stringify({ adminPassword: "pw" }) },
      ["mcp-gateway-stack:keycloak"],
    );
    const cfg = loadStackConfig();
    expect(cfg.useCase).toBe("oidc");
    await expect(pulumi.isSecret(cfg.keycloak!.adminPassword)).resolves.toBe(true);
  });

  it("takes the empty defaults Pulumi.yaml declares as unset", async () => {
    await pulumi.runtime.setMocks({ newResource: () => ({ id: "x", state: {} }), call: () => ({}) }, PROJECT, "dev");
    pulumi.runtime.setAllConfig({
      "mcp-gateway-stack:useCase": "",
      "mcp-gateway-stack:cluster": "{}",
      "mcp-gateway-stack:keycloak": JSON.stringify({ tlsInsecureSkipVerify: true }),
    });
    expect(loadStackConfig()).toMatchObject({ useCase: "no-auth", cluster: { mode: "kind" } });
  });

  it("never prints a value under a key the engine marks secret, and refuses one it cannot keep secret", async () => {
    await pulumi.runtime.setMocks({ newResource: () => ({ id: "x", state: {} }), call: () => ({}) }, PROJECT, "dev");
    // `pulumi config set --secret --path keycloak.url ...` marks the whole keycloak key secret.
    pulumi.runtime.setAllConfig(
      {
        "mcp-gateway-stack:useCase": "oidc",
        "mcp-gateway-stack:keycloak": JSON.stringify({ adminPassword: "pw", url: "https://kc-in-clear.example/x" }),
        "mcp-gateway-stack:mcpServer": JSON.stringify({ host: "Host_In_Clear" }),
      },
      ["mcp-gateway-stack:keycloak", "mcp-gateway-stack:mcpServer"],
    );
    let message = "";
    try {
      loadStackConfig();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toMatch(/in-clear|In_Clear/i);
    expect(message).toContain("mcp-gateway-stack:keycloak.url = (value not shown): expected an https URL");
    expect(message).toContain("mcp-gateway-stack:mcpServer.host = (value not shown): expected a DNS name");
    // Its values would become resource inputs and outputs in clear text.
    expect(message).toContain("mcp-gateway-stack:mcpServer = (value not shown): expected no secret here");
  });
});
