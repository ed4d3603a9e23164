/**
 * Stack configuration: read once, validated completely, returned as plain typed values.
 *
 * Every bad value is reported in one error that names the key, the value and what is
 * allowed, before any resource is declared. Secrets (the Keycloak admin password, a
 * kubeconfig) leave this module only as Pulumi secret Outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { isIP } from "node:net";
import { GATEWAY_RELEASES, RELEASE_FACTS, type GatewayRelease } from "../components/gatewayRelease";
import { GUIDE_TOOLS, GUIDE_TOOLSETS, KNOWN_TOOLS, KNOWN_TOOLSETS, toolsetsServing } from "../components/tools";

export const PROJECT = "mcp-gateway-stack";

export const USE_CASES = ["no-auth", "oidc"] as const;
export type UseCase = (typeof USE_CASES)[number];
export const CLUSTER_MODES = ["kind", "existing"] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];
/** What to do with Keycloak objects that a newer realm import already contains. */
export const KEYCLOAK_OBJECT_MODES = ["create", "reference"] as const;
export type KeycloakObjectMode = (typeof KEYCLOAK_OBJECT_MODES)[number];

export interface KindClusterConfig {
  /** Git URL of the MCP Gateway repository whose make targets create the Kind cluster. */
  repoUrl: string;
  /** Pinned commit (or tag) of that repository. */
  ref: string;
  /** Where the checkout lives; cloned when missing. */
  dir: string;
  /** Kind cluster name the gateway's Makefile creates. */
  name: string;
}

export interface ClusterConfig {
  mode: ClusterMode;
  kind: KindClusterConfig;
  /** For `existing`: kubeconfig contents or path (always a secret). */
  kubeconfig?: pulumi.Output<string>;
  context?: string;
  /** Stable identity of the cluster so a re-read kubeconfig does not replace every resource. */
  clusterIdentifier: string;
}

export interface McpServerConfig {
  /** Start kubernetes-mcp-server on the host (true) or only register one the user runs. */
  manage: boolean;
  port: number;
  /** Address the host process listens on (the cluster must reach it there). */
  bindAddress: string;
  /** Host name under which the cluster reaches the host (ExternalName, listener, route). */
  host: string;
  toolsets: string[];
  toolPrefix: string;
  /** Tools that get a Keycloak role (OIDC). */
  tools: string[];
  namespace: string;
  /** Name of the HTTPRoute; with the namespace it is also the Keycloak client id. */
  routeName: string;
  serviceName: string;
  serverName: string;
  path: string;
}

export interface GatewayConfig {
  /** Which MCP Gateway the stack registers with (components/gatewayRelease.ts). */
  release: GatewayRelease;
  name: string;
  namespace: string;
  listenerName: string;
  listenerPort: number;
  /** Public host and port of the gateway as seen from the user's machine. */
  publicHost: string;
  publicPort: number;
}

export interface KeycloakConfig {
  url: string;
  realm: string;
  adminUser: string;
  adminPassword: pulumi.Output<string>;
  tlsInsecureSkipVerify: boolean;
  rootCaCertificate?: string;
  existingObjects: KeycloakObjectMode;
  group: string;
  username: string;
}

export interface OidcConfig {
  clusterRole: string;
  /** The policy pack refuses a binding to cluster-admin unless this is true. */
  allowClusterAdmin: boolean;
  /** Secret (in Authorino's namespace) with the gateway client's Basic credentials for the exchange. */
  tokenExchangeSecret: string;
}

export interface StackConfig {
  useCase: UseCase;
  cluster: ClusterConfig;
  mcpServer: McpServerConfig;
  gateway: GatewayConfig;
  /** Present only when useCase is `oidc`. */
  keycloak?: KeycloakConfig;
  oidc?: OidcConfig;
}

/** The defaults reproduce the guide. Pulumi.yaml declares the same values (a test keeps them equal). */
export const DEFAULTS = {
  useCase: "no-auth" as UseCase,
  cluster: {
    mode: "kind" as ClusterMode,
    // repoUrl and ref follow gateway.release (components/gatewayRelease.ts). For kagenti the ref is
    // the commit the guide was written at: local-env-setup installs cert-manager, Kuadrant and
    // Keycloak, and its realm has no kubernetes-mcp client, roles or group yet, so the stack
    // creates them as the guide does. From e0d3f99 on (the guide's merge fd2e9da included) the
    // realm import has them: set keycloak.existingObjects to 'reference' with such a ref.
    dir: ".mcp-gateway",
    name: "mcp-gateway",
  },
  mcpServer: {
    manage: true,
    port: 9999,
    // Kind's pods reach the host through the container network, not loopback. Without a token the
    // server acts with the kubeconfig's power: on a shared network set the container bridge address.
    bindAddress: "0.0.0.0",
    host: "host.containers.internal",
    toolsets: [...GUIDE_TOOLSETS] as string[],
    toolPrefix: "kube_",
    tools: [...GUIDE_TOOLS] as string[],
    namespace: "mcp-test",
    routeName: "kubernetes-mcp",
    serviceName: "kubernetes-mcp-external",
    serverName: "kubernetes-mcp-server",
    path: "/mcp",
  },
  gateway: {
    release: "kagenti" as GatewayRelease,
    name: "mcp-gateway",
    namespace: "gateway-system",
    listenerName: "kubernetes-mcp",
    listenerPort: 8080,
    publicHost: "mcp.127-0-0-1.sslip.io",
    publicPort: 8001,
  },
  keycloak: {
    url: "https://keycloak.127-0-0-1.sslip.io:8002",
    realm: "mcp",
    adminUser: "admin",
    tlsInsecureSkipVerify: false,
    group: "engineering",
    username: "mcp",
  },
  oidc: {
    clusterRole: "cluster-admin",
    allowClusterAdmin: true,
    tokenExchangeSecret: "token-exchange",
  },
};

/** The realm's issuer as tokens name it (`iss`): the AuthPolicy's jwt.issuerUrl, the binding's prefix. */
export function issuerUrl(kc: Pick<KeycloakConfig, "url" | "realm">): string {
  return `${kc.url}/realms/${kc.realm}`;
}

/** Top-level config keys (each an object except `useCase`). */
export const CONFIG_KEYS = ["useCase", "cluster", "mcpServer", "gateway", "keycloak", "oidc"] as const;

/** Raw config as the engine hands it over: this project's values by key (objects parsed). */
export interface RawConfig {
  values: Partial<Record<string, unknown>>;
}

/** "<title> (N problems):" and one indented line per problem: the config's and the preflight's errors. */
export function problemList(title: string, problems: string[]): string {
  const count = `${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  return `${title} (${count}):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problemList("Invalid stack configuration", problems));
    this.name = "ConfigError";
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Collects problems while reading one config object; each reader returns a typed value. */
class Reader {
  constructor(
    private readonly problems: string[],
    private readonly group: string,
    private readonly obj: Record<string, unknown>,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        // A misspelt key may be a misspelt secret (keycloak.adminPasword): never print its value.
        this.problems.push(
          `${PROJECT}:${group}.${key} = ${HIDDEN}: expected a known key of '${group}' (${allowed.join(", ")})`,
        );
      }
    }
  }

  fail(key: string, value: unknown, expected: string): void {
    const secret = value !== undefined && SECRET_FIELDS.includes(`${this.group}.${key}`);
    const shown = secret ? HIDDEN : show(value);
    this.problems.push(`${PROJECT}:${this.group}.${key} = ${shown}: expected ${expected}`);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  string(key: string, def: string, check?: (v: string) => string | undefined): string {
    const v = this.obj[key];
    if (v === undefined) return def;
    if (typeof v !== "string" || v === "") {
      this.fail(key, v, "a non-empty string");
      return def;
    }
    const expected = check?.(v);
    if (expected) this.fail(key, v, expected);
    return v;
  }

  optionalString(key: string, check?: (v: string) => string | undefined): string | undefined {
    return this.has(key) ? this.string(key, "", check) : undefined;
  }

  oneOf<T extends string>(key: string, def: T, options: readonly T[]): T {
    const v = this.string(key, def, (s) => (options.includes(s as T) ? undefined : `one of ${options.join(", ")}`));
    return options.includes(v as T) ? (v as T) : def;
  }

  boolean(key: string, def: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined) return def;
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    this.fail(key, v, "true or false");
    return def;
  }

  port(key: string, def: number): number {
    const v = this.obj[key];
    if (v === undefined) return def;
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 65535) {
      this.fail(key, v, "an integer port from 1 to 65535");
      return def;
    }
    return n;
  }

  list(key: string, def: string[], known: readonly string[], what: string): string[] {
    const v = this.obj[key];
    if (v === undefined) return def;
    const items = typeof v === "string" ? v.split(",").map((s) => s.trim()) : v;
    if (!Array.isArray(items) || items.length === 0 || !items.every((i) => typeof i === "string")) {
      this.fail(key, v, `a non-empty list of ${what}`);
      return def;
    }
    const unknown = items.filter((i) => !known.includes(i));
    if (unknown.length > 0) {
      this.fail(key, unknown.length === 1 ? unknown[0] : unknown, `${what} from: ${known.join(", ")}`);
    }
    const duplicates = items.filter((i, idx) => items.indexOf(i) !== idx);
    if (duplicates.length > 0) this.fail(key, duplicates, `${what} without duplicates`);
    return items as string[];
  }
}

/** Fields whose values are secrets: an error names them but never prints their value. */
const SECRET_FIELDS = ["cluster.kubeconfig", "keycloak.adminPassword"];
const HIDDEN = "(value not shown)";

function show(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : JSON.stringify(value);
}

const dnsName = (v: string) =>
  DNS_SUBDOMAIN.test(v) ? undefined : "a DNS name (lower-case letters, digits, '-' and '.')";
const dnsLabel = (v: string) =>
  DNS_LABEL.test(v) ? undefined : "a DNS label (lower-case letters, digits and '-', at most 63)";
const httpsUrl = (v: string) => {
  try {
    const u = new URL(v);
    if (u.protocol !== "https:" && u.protocol !== "http:") return "an http(s) URL";
    if (u.pathname !== "/" || v.endsWith("/")) return "an http(s) URL without a path or trailing slash";
    return undefined;
  } catch {
    return "an http(s) URL";
  }
};
const ipAddress = (v: string) => (isIP(v) ? undefined : "an IP address such as 127.0.0.1");
const toolPrefix = (v: string) => (/^[a-z0-9_]+$/.test(v) ? undefined : "lower-case letters, digits and '_'");
const urlPath = (v: string) => (/^\/[A-Za-z0-9._~\-/]*$/.test(v) ? undefined : "an absolute URL path such as /mcp");
// Neither may start with '-': git would read it as an option.
const gitRef = (v: string) => (/^[\w.][\w./-]*$/.test(v) ? undefined : "a git commit, tag or branch name");
const gitUrl = (v: string) => (v.startsWith("-") ? "a git repository URL or path (not starting with '-')" : undefined);
const pem = (v: string) => (v.includes("-----BEGIN CERTIFICATE-----") ? undefined : "a PEM certificate");

function objectAt(problems: string[], values: RawConfig["values"], key: string): Record<string, unknown> {
  const v = values[key];
  if (v === undefined) return {};
  if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  problems.push(
    `${PROJECT}:${key} = ${HIDDEN}: expected an object (set its fields with 'pulumi config set --path ${key}.<field>')`,
  );
  return {};
}

/** Validates raw config (no I/O). Throws one ConfigError listing every problem. */
export function parseStackConfig(raw: RawConfig): StackConfig {
  const problems: string[] = [];
  const values = raw.values;
  for (const key of Object.keys(values)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      problems.push(`${PROJECT}:${key} = ${HIDDEN}: expected one of the keys ${CONFIG_KEYS.join(", ")}`);
    }
  }

  const useCaseRaw = values.useCase ?? DEFAULTS.useCase;
  let useCase: UseCase = DEFAULTS.useCase;
  if (typeof useCaseRaw === "string" && (USE_CASES as readonly string[]).includes(useCaseRaw)) {
    useCase = useCaseRaw as UseCase;
  } else {
    problems.push(`${PROJECT}:useCase = ${show(useCaseRaw)}: expected one of ${USE_CASES.join(", ")}`);
  }

  const g = new Reader(problems, "gateway", objectAt(problems, values, "gateway"), Object.keys(DEFAULTS.gateway));
  const gd = DEFAULTS.gateway;
  const gateway: GatewayConfig = {
    release: g.oneOf("release", gd.release, GATEWAY_RELEASES),
    name: g.string("name", gd.name, dnsName),
    namespace: g.string("namespace", gd.namespace, dnsLabel),
    listenerName: g.string("listenerName", gd.listenerName, dnsName),
    listenerPort: g.port("listenerPort", gd.listenerPort),
    publicHost: g.string("publicHost", gd.publicHost, dnsName),
    publicPort: g.port("publicPort", gd.publicPort),
  };
  const release = RELEASE_FACTS[gateway.release];

  const c = new Reader(problems, "cluster", objectAt(problems, values, "cluster"), [
    "mode",
    "repoUrl",
    "ref",
    "dir",
    "name",
    "kubeconfig",
    "context",
    "clusterIdentifier",
  ]);
  const mode = c.oneOf("mode", DEFAULTS.cluster.mode, CLUSTER_MODES);
  const kind: KindClusterConfig = {
    repoUrl: c.string("repoUrl", release.repoUrl, gitUrl),
    ref: c.string("ref", release.ref, gitRef),
    dir: c.string("dir", DEFAULTS.cluster.dir),
    name: c.string("name", DEFAULTS.cluster.name, dnsLabel),
  };
  const kubeconfig = c.optionalString("kubeconfig");
  const context = c.optionalString("context");
  if (mode === "existing" && kubeconfig === undefined) {
    c.fail(
      "kubeconfig",
      undefined,
      "a kubeconfig (contents or path) when cluster.mode is 'existing': pulumi config set --secret --path cluster.kubeconfig \"$(cat ~/.kube/config)\"",
    );
  }
  const cluster: ClusterConfig = {
    mode,
    kind,
    kubeconfig: kubeconfig === undefined ? undefined : pulumi.secret(kubeconfig),
    context,
    clusterIdentifier: c.string(
      "clusterIdentifier",
      mode === "kind" ? `kind-${kind.name}` : (context ?? "existing-cluster"),
    ),
  };

  const m = new Reader(problems, "mcpServer", objectAt(problems, values, "mcpServer"), Object.keys(DEFAULTS.mcpServer));
  const d = DEFAULTS.mcpServer;
  const mcpServer: McpServerConfig = {
    manage: m.boolean("manage", d.manage),
    port: m.port("port", d.port),
    bindAddress: m.string("bindAddress", d.bindAddress, ipAddress),
    host: m.string("host", d.host, dnsName),
    toolsets: m.list("toolsets", d.toolsets, KNOWN_TOOLSETS, "toolset names"),
    toolPrefix: m.string("toolPrefix", d.toolPrefix, toolPrefix),
    tools: m.list("tools", d.tools, KNOWN_TOOLS, "tool names"),
    namespace: m.string("namespace", d.namespace, dnsLabel),
    routeName: m.string("routeName", d.routeName, dnsName),
    serviceName: m.string("serviceName", d.serviceName, dnsLabel),
    serverName: m.string("serverName", d.serverName, dnsName),
    path: m.string("path", d.path, urlPath),
  };
  if (release.prefixPattern && !release.prefixPattern.test(mcpServer.toolPrefix)) {
    m.fail(
      "toolPrefix",
      mcpServer.toolPrefix,
      `a prefix matching ${release.prefixPattern.source} (gateway.release ${gateway.release}'s MCPServerRegistration)`,
    );
  }
  // A role for a tool the server does not serve with these toolsets would grant nothing.
  const toolsetsKnown = mcpServer.toolsets.every((ts) => KNOWN_TOOLSETS.includes(ts));
  const unserved = mcpServer.tools.filter(
    (t) =>
      toolsetsKnown && KNOWN_TOOLS.includes(t) && !toolsetsServing(t).some((ts) => mcpServer.toolsets.includes(ts)),
  );
  if (unserved.length > 0) {
    m.fail(
      "tools",
      unserved.length === 1 ? unserved[0] : unserved,
      `tools the server serves with mcpServer.toolsets (${mcpServer.toolsets.join(",")}); add the toolset ${[...new Set(unserved.flatMap(toolsetsServing))].join(" or ")} or drop the tool`,
    );
  }

  const keycloakRaw = objectAt(problems, values, "keycloak");
  const oidcRaw = objectAt(problems, values, "oidc");
  let keycloak: KeycloakConfig | undefined;
  let oidc: OidcConfig | undefined;
  if (useCase === "oidc") {
    const k = new Reader(problems, "keycloak", keycloakRaw, [
      ...Object.keys(DEFAULTS.keycloak),
      "existingObjects",
      "adminPassword",
      "rootCaCertificate",
    ]);
    const kd = DEFAULTS.keycloak;
    const password = k.optionalString("adminPassword");
    if (password === undefined) {
      k.fail(
        "adminPassword",
        undefined,
        "the Keycloak admin password when useCase is 'oidc': pulumi config set --secret --path keycloak.adminPassword <password>",
      );
    }
    keycloak = {
      url: k.string("url", kd.url, httpsUrl),
      realm: k.string("realm", kd.realm, dnsLabel),
      adminUser: k.string("adminUser", kd.adminUser),
      adminPassword: pulumi.secret(password ?? ""),
      tlsInsecureSkipVerify: k.boolean("tlsInsecureSkipVerify", kd.tlsInsecureSkipVerify),
      rootCaCertificate: k.optionalString("rootCaCertificate", pem),
      // A realm import that holds the client, roles and group is adopted, not created (409 otherwise).
      existingObjects: k.oneOf(
        "existingObjects",
        release.realmHoldsToolAccess ? "reference" : "create",
        KEYCLOAK_OBJECT_MODES,
      ),
      group: k.string("group", kd.group),
      username: k.string("username", kd.username),
    };
    if (keycloak.tlsInsecureSkipVerify && keycloak.rootCaCertificate !== undefined) {
      k.fail(
        "tlsInsecureSkipVerify",
        true,
        "false when keycloak.rootCaCertificate is set (verify against the CA instead)",
      );
    }
    const o = new Reader(problems, "oidc", oidcRaw, Object.keys(DEFAULTS.oidc));
    const od = DEFAULTS.oidc;
    oidc = {
      clusterRole: o.string("clusterRole", od.clusterRole, dnsName),
      allowClusterAdmin: o.boolean("allowClusterAdmin", od.allowClusterAdmin),
      tokenExchangeSecret: o.string("tokenExchangeSecret", od.tokenExchangeSecret, dnsName),
    };
    if (oidc.clusterRole === "cluster-admin" && !oidc.allowClusterAdmin) {
      o.fail(
        "clusterRole",
        oidc.clusterRole,
        "a ClusterRole other than cluster-admin while oidc.allowClusterAdmin is false",
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { useCase, cluster, mcpServer, gateway, keycloak, oidc };
}

/** Reads this project's config from the Pulumi engine and validates it. */
export function loadStackConfig(): StackConfig {
  const values: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    const [project, key] = fullKey.split(":", 2);
    if (project !== PROJECT || key === undefined) continue;
    values[key] = parseConfigText(text);
  }
  try {
    return parseStackConfig({ values });
  } catch (err) {
    // RunError prints the message alone, without a stack trace, and stops before any resource.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

/** The engine hands objects over as JSON text and strings as they are. */
function parseConfigText(text: string): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed : text;
  } catch {
    return text;
  }
}
