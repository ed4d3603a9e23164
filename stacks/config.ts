/**
 * Stack configuration: read once, validated completely, returned as plain typed values.
 *
 * Every bad value is reported in one error that names the key, the value and what is
 * allowed, before any resource is declared. Secrets (the Keycloak admin password, a
 * kubeconfig) leave this module only as Pulumi secret Outputs.
 *
 * The schema below is the one place values default; they reproduce
 * ../shared/reference/kubernetes-mcp-server-guide.md.
 *
 * Why valibot (not zod): every check takes its own message, which is exactly our "expected
 * <what is allowed>"; objectWithRest reports each unknown key as its own issue; a variant names
 * the bad discriminator's own value; rawCheck lets a rule show the part of a value at fault; and it
 * is small (about a quarter of zod's size) with no dependencies.
 */
import * as pulumi from "@pulumi/pulumi";
import { isIP } from "node:net";
import * as v from "valibot";
import { GATEWAY_RELEASES, RELEASE_FACTS, type GatewayRelease } from "../components/gatewayRelease";
import { DEFAULT_CHAINING_IMAGE, grantSupport } from "../components/keycloakChaining";
import { GUIDE_TOOLS, GUIDE_TOOLSETS, KNOWN_TOOLS, KNOWN_TOOLSETS, toolsetsServing } from "../components/tools";

export const PROJECT = "mcp-gateway-stack";

const USE_CASES = ["no-auth", "oidc", "cross-domain"] as const;
const CLUSTER_MODES = ["kind", "existing"] as const;
/** What to do with Keycloak objects that a newer realm import already contains. */
const KEYCLOAK_OBJECT_MODES = ["create", "reference"] as const;

/** Fields whose values are secrets (`*`: any list index): an error names them but never prints their value. */
const SECRET_FIELDS = ["cluster.kubeconfig", "keycloak.adminPassword", "domains.*.kubeconfig"];
const HIDDEN = "(value not shown)";

// ---- Values ---------------------------------------------------------------------------------

const oneOf = (options: readonly string[]) => `one of ${options.join(", ")}`;
const notAnObject = (group: string) => `an object (set its fields with 'pulumi config set --path ${group}.<field>')`;

const text = v.pipe(v.string("a non-empty string"), v.nonEmpty("a non-empty string"));
const matching = (pattern: RegExp, expected: string) => v.pipe(v.string(expected), v.regex(pattern, expected));
const passing = (test: (s: string) => boolean, expected: string) => v.pipe(v.string(expected), v.check(test, expected));

// The lookaheads hold the lengths the messages promise: 63 a label (and each part of a name), 253 a name.
const LABEL = "(?=[^.]{1,63}(\\.|$))[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS_LABEL = new RegExp(`^${LABEL}$`);
const DNS_SUBDOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`);
const dnsName = matching(
  DNS_SUBDOMAIN,
  "a DNS name (lower-case letters, digits, '-' and '.'; at most 253, each part between dots at most 63)",
);
const dnsLabel = matching(DNS_LABEL, "a DNS label (lower-case letters, digits and '-', at most 63)");
// Neither may start with '-': git would read it as an option.
const gitRef = matching(/^[\w.][\w./-]*$/, "a git commit, tag or branch name");
const gitUrl = matching(/^[^-]/, "a git repository URL or path (not starting with '-')");
// The issuer is <url>/realms/<realm>, and it names the binding's user and the AuthPolicy's issuer:
// anything after host and port (a path, '/', a query, a fragment) would change it, user info would put
// a password in them, and http would send tokens and the admin password in clear.
const KEYCLOAK_URL =
  "an https URL of only a host and optional port, such as https://keycloak.example.com:8443 (no user info, path, query, fragment or trailing slash: the issuer is <url>/realms/<realm>)";
const keycloakUrl = v.pipe(
  v.string(KEYCLOAK_URL),
  v.rawCheck<string>(({ dataset, addIssue }) => {
    const url = dataset.typed ? dataset.value : "";
    if (URL.canParse(url) && url.startsWith("https://") && !/[/\\?#@\s]/.test(url.slice("https://".length))) return;
    addIssue({
      message: KEYCLOAK_URL,
      // The error shows the value with its user info (maybe a password) as ***.
      input: url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@"),
    });
  }),
);
/** The MCP server's bind address meaning "the host's address on the Kind network", found when it starts. */
export const KIND_NETWORK = "kind-network";
const bindAddress = passing(
  (s) => isIP(s) !== 0 || s === KIND_NETWORK,
  `an IP address such as 127.0.0.1, or '${KIND_NETWORK}' (the host's address on the Kind network)`,
);
// It names the ClusterRoleBinding (oidc-<username>-<clusterRole>) and its subject <issuer>#<username>;
// Keycloak keeps user names in lower case.
const keycloakUsername = matching(
  /^[a-z0-9][a-z0-9._@-]{0,99}$/,
  "a Keycloak user name of lower-case letters, digits, '.', '_', '@' and '-' (no spaces: it names the ClusterRoleBinding oidc-<username>-<clusterRole>)",
);
const urlPath = matching(/^\/[A-Za-z0-9._~\-/]*$/, "an absolute URL path such as /mcp");
const pemCertificate = matching(/-----BEGIN CERTIFICATE-----/, "a PEM certificate");

// `pulumi config set` stores "true"/"false" and numbers as strings (with --path it stores them typed).
const boolean = v.pipe(
  v.unknown(),
  v.parseBoolean({ truthy: [true, "true"], falsy: [false, "false"] }, "true or false"),
);
const port = v.pipe(
  v.unknown(),
  v.transform((x) => (typeof x === "string" && /^\d+$/.test(x) ? Number(x) : x)),
  v.custom<number>(
    (n) => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535,
    "an integer port from 1 to 65535",
  ),
);

/** One item alone, several as a list, none as undefined: how a problem shows the items at fault. */
const oneOrAll = (items: string[]) => (items.length === 0 ? undefined : items.length === 1 ? items[0] : items);
/** The repeated items, as a list even when one (or undefined when none). */
function duplicatesIn(items: string[]): string[] | undefined {
  const repeated = items.filter((item, i) => items.indexOf(item) !== i);
  return repeated.length > 0 ? repeated : undefined;
}

/** A check that shows the part of the value at fault (the unknown names, not the whole list). */
function showingFault<T>(faultIn: (value: T) => unknown, expected: string) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    const fault = dataset.typed ? faultIn(dataset.value) : undefined;
    if (fault !== undefined) addIssue({ message: expected, input: fault });
  });
}

/** A list of known names, given as a YAML list or (as `pulumi config set` stores it) comma-separated. */
function names(known: readonly string[], what: string) {
  return v.pipe(
    v.unknown(),
    v.transform((x) => (typeof x === "string" ? x.split(",").map((s) => s.trim()) : x)),
    v.custom<string[]>(
      (x) => Array.isArray(x) && x.length > 0 && x.every((item) => typeof item === "string"),
      `a non-empty list of ${what}`,
    ),
    showingFault(
      (items: string[]) => oneOrAll(items.filter((i) => !known.includes(i))),
      `${what} from: ${known.join(", ")}`,
    ),
    showingFault(duplicatesIn, `${what} without duplicates`),
  );
}

// ---- Groups ---------------------------------------------------------------------------------

/** A group of fields: anything but an object is refused, and so is each unknown key. */
function group<E extends v.ObjectEntries>(name: string, entries: E) {
  // A misspelt key may be a misspelt secret: its value is never shown (see mayShow).
  const unknownKey = v.never(`a known key of '${name}' (${Object.keys(entries).join(", ")})`);
  return v.objectWithRest(entries, unknownKey, notAnObject(name));
}

/**
 * A rule across the fields of one group, reported at field `at` with the value it returns. Like
 * valibot's partialCheck it runs once the fields it reads are valid, whatever else is wrong, so one
 * run lists every problem; unlike it, the problem shows a value of the rule's choosing.
 */
function rule<T extends Record<string, unknown>>(
  reads: (keyof T & string)[],
  at: keyof T & string,
  broken: (value: T) => { value: unknown; expected: string } | undefined,
) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    // Skipped while the group itself (no path) or a field the rule reads has a problem.
    if (dataset.issues?.some((i) => !i.path || reads.includes(i.path[0].key as keyof T & string))) return;
    const value = dataset.value as T;
    const problem = broken(value);
    if (!problem) return;
    const path: [v.ObjectPathItem] = [{ type: "object", origin: "value", input: value, key: at, value: value[at] }];
    addIssue({ message: problem.expected, input: problem.value, path });
  });
}

/** valibot reports a missing key with its object's message, so a required field with its own is a rule. */
const required = <T extends Record<string, unknown>>(key: keyof T & string, expected: string) =>
  rule<T>([key], key, (o) => (o[key] === undefined ? { value: undefined, expected } : undefined));

const Release = v.optional(v.picklist(GATEWAY_RELEASES, oneOf(GATEWAY_RELEASES)), "kagenti");
const DEFAULT_RELEASE = v.getDefault(Release);

function clusterSchema(release: GatewayRelease) {
  const fields = {
    // A gateway checkout: repoUrl and ref default to gateway.release's repository and the commit it
    // was checked against (components/gatewayRelease.ts). For kagenti that is the commit the guide
    // was written at: local-env-setup installs cert-manager, Kuadrant and Keycloak, and its realm has
    // no kubernetes-mcp client, roles or group yet, so the stack creates them as the guide does. From
    // e0d3f99 on (the guide's merge fd2e9da included) the realm import has them: set
    // keycloak.existingObjects to 'reference' with such a ref.
    repoUrl: v.optional(gitUrl, RELEASE_FACTS[release].repoUrl),
    ref: v.optional(gitRef, RELEASE_FACTS[release].ref),
    /** Where the checkout lives; cloned when missing. */
    dir: v.optional(text, ".mcp-gateway"),
    /** Kind cluster name the gateway's Makefile creates. */
    name: v.optional(dnsLabel, "mcp-gateway"),
    /** Kind: use a cluster of that name that exists already (destroy then leaves it); else one is refused. */
    adopt: v.optional(boolean, false),
    /** For `existing`: kubeconfig contents or path (always a secret). */
    kubeconfig: v.optional(text),
    context: v.optional(text),
    /** Stable identity of the cluster so a re-read kubeconfig does not replace every resource. */
    clusterIdentifier: v.optional(text),
  };
  const kind = group("cluster", { mode: v.optional(v.literal("kind"), "kind"), ...fields });
  const existing = v.pipe(
    group("cluster", { mode: v.literal("existing"), ...fields }),
    required(
      "kubeconfig",
      "a kubeconfig (contents or path) when cluster.mode is 'existing': pulumi config set --secret --path cluster.kubeconfig \"$(cat ~/.kube/config)\"",
    ),
  );
  return v.pipe(
    // The variant's one message serves a bad mode (the issue has its path) and a cluster that is no object.
    v.variant("mode", [kind, existing], (issue) => (issue.path ? oneOf(CLUSTER_MODES) : notAnObject("cluster"))),
    v.transform((c) => ({
      mode: c.mode,
      kind: { repoUrl: c.repoUrl, ref: c.ref, dir: c.dir, name: c.name, adopt: c.adopt },
      kubeconfig: c.kubeconfig === undefined ? undefined : pulumi.secret(c.kubeconfig),
      context: c.context,
      clusterIdentifier:
        c.clusterIdentifier ?? (c.mode === "kind" ? `kind-${c.name}` : (c.context ?? "existing-cluster")),
    })),
  );
}

/** The gateway puts it before each tool's name: without a trailing '_' the two run together. */
function toolPrefix(release: GatewayRelease) {
  const { prefixPattern } = RELEASE_FACTS[release];
  return v.pipe(
    matching(
      /^[a-z0-9][a-z0-9_]*_$/,
      "lower-case letters, digits and '_', starting with a letter or digit and ending in '_' (such as 'kube_': tool names read kube_namespaces_list)",
    ),
    v.check(
      (prefix) => prefixPattern?.test(prefix) ?? true,
      `a prefix matching ${prefixPattern?.source} (gateway.release ${release}'s MCPServerRegistration)`,
    ),
  );
}

function mcpServerSchema(release: GatewayRelease) {
  return v.pipe(
    group("mcpServer", {
      /** Start kubernetes-mcp-server on the host (true) or only register one the user runs. */
      manage: v.optional(boolean, true),
      port: v.optional(port, 9999),
      // Without a token the server acts with the kubeconfig's power: by default it listens only where
      // the gateway reaches it, the host's address on the Kind network (kind) or loopback (existing).
      bindAddress: v.optional(bindAddress),
      /** no-auth: offer configuration_view, which shows the kubeconfig's credentials to every caller. */
      allowConfigurationView: v.optional(boolean, false),
      /** Host name under which the cluster reaches the host (ExternalName, listener, route). */
      host: v.optional(dnsName, "host.containers.internal"),
      toolsets: v.optional(names(KNOWN_TOOLSETS, "toolset names"), () => [...GUIDE_TOOLSETS]),
      toolPrefix: v.optional(toolPrefix(release), "kube_"),
      /** Tools that get a Keycloak role (OIDC). */
      tools: v.optional(names(KNOWN_TOOLS, "tool names"), () => [...GUIDE_TOOLS]),
      namespace: v.optional(dnsLabel, "mcp-test"),
      /** Name of the HTTPRoute; with the namespace it is also the Keycloak client id. */
      routeName: v.optional(dnsName, "kubernetes-mcp"),
      serviceName: v.optional(dnsLabel, "kubernetes-mcp-external"),
      serverName: v.optional(dnsName, "kubernetes-mcp-server"),
      path: v.optional(urlPath, "/mcp"),
    }),
    // A role for a tool the server does not serve with these toolsets would grant nothing.
    rule(["tools", "toolsets"], "tools", ({ tools, toolsets }) => {
      const unserved = tools.filter((t) => !toolsetsServing(t).some((ts) => toolsets.includes(ts)));
      if (unserved.length === 0) return undefined;
      const add = [...new Set(unserved.flatMap(toolsetsServing))].join(" or ");
      return {
        value: oneOrAll(unserved),
        expected: `tools the server serves with mcpServer.toolsets (${toolsets.join(",")}); add the toolset ${add} or drop the tool`,
      };
    }),
  );
}

const Gateway = group("gateway", {
  /** Which MCP Gateway the stack registers with (components/gatewayRelease.ts). */
  release: Release,
  name: v.optional(dnsName, "mcp-gateway"),
  namespace: v.optional(dnsLabel, "gateway-system"),
  listenerName: v.optional(dnsName, "kubernetes-mcp"),
  listenerPort: v.optional(port, 8080),
  /** Public host and port of the gateway as seen from the user's machine. */
  publicHost: v.optional(dnsName, "mcp.127-0-0-1.sslip.io"),
  publicPort: v.optional(port, 8001),
});

function keycloakSchema(release: GatewayRelease) {
  return v.pipe(
    group("keycloak", {
      url: v.optional(keycloakUrl, "https://keycloak.127-0-0-1.sslip.io:8002"),
      realm: v.optional(dnsLabel, "mcp"),
      adminUser: v.optional(text, "admin"),
      adminPassword: v.optional(text),
      tlsInsecureSkipVerify: v.optional(boolean, false),
      rootCaCertificate: v.optional(pemCertificate),
      // A realm import that holds the client, roles and group is adopted, not created (409 otherwise).
      existingObjects: v.optional(
        v.picklist(KEYCLOAK_OBJECT_MODES, oneOf(KEYCLOAK_OBJECT_MODES)),
        RELEASE_FACTS[release].realmHoldsToolAccess ? "reference" : "create",
      ),
      group: v.optional(text, "engineering"),
      username: v.optional(keycloakUsername, "mcp"),
    }),
    required(
      "adminPassword",
      "the Keycloak admin password when useCase is 'oidc' or 'cross-domain': pulumi config set --secret --path keycloak.adminPassword <password>",
    ),
    rule(["tlsInsecureSkipVerify", "rootCaCertificate"], "tlsInsecureSkipVerify", (k) =>
      k.tlsInsecureSkipVerify && k.rootCaCertificate !== undefined
        ? {
            value: k.tlsInsecureSkipVerify,
            expected: "false when keycloak.rootCaCertificate is set (verify against the CA instead)",
          }
        : undefined,
    ),
    // Runs only without problems, so the password is set (required above).
    v.transform((k) => ({ ...k, adminPassword: pulumi.secret(k.adminPassword ?? "") })),
  );
}

const Oidc = v.pipe(
  group("oidc", {
    clusterRole: v.optional(dnsName, "view"),
    /** The policy pack refuses a binding to cluster-admin unless this is true. */
    allowClusterAdmin: v.optional(boolean, false),
    /** Secret (in Authorino's namespace) with the gateway client's Basic credentials for the exchange. */
    tokenExchangeSecret: v.optional(dnsName, "token-exchange"),
  }),
  rule(["clusterRole", "allowClusterAdmin"], "clusterRole", (o) =>
    o.clusterRole === "cluster-admin" && !o.allowClusterAdmin
      ? {
          value: o.clusterRole,
          expected: "a ClusterRole other than cluster-admin while oidc.allowClusterAdmin is false",
        }
      : undefined,
  ),
);

/** The tool prefix a domain's tools get by default: `kube_<name>_`. */
const domainToolPrefix = (name: string) => `kube_${name.replace(/-/g, "_")}_`;

/** How a further cluster comes to be: a kubeconfig of one that exists, or a Kind cluster the stack creates. */
const DOMAIN_CLUSTER_MODES = ["existing", "kind"] as const;
const DomainCluster = v.pipe(
  group("domains[].cluster", {
    mode: v.optional(v.picklist(DOMAIN_CLUSTER_MODES, oneOf(DOMAIN_CLUSTER_MODES)), "existing"),
    /** Kind: the cluster's name (default `mcp-<domain name>`). */
    name: v.optional(dnsLabel),
  }),
  rule(["mode", "name"], "name", (c) =>
    c.mode !== "kind" && c.name !== undefined
      ? { value: c.name, expected: "no name unless mode is 'kind' (the name of the Kind cluster the stack creates)" }
      : undefined,
  ),
);

/** Use case 3: one more cluster, in the OIDC domain of its own realm (on the gateway's Keycloak). */
function domainSchema(release: GatewayRelease) {
  return v.pipe(
    group("domains[]", {
      /** `existing` (default): use `kubeconfig`; `kind`: the stack creates a Kind cluster trusting `realm`. */
      cluster: v.optional(DomainCluster, {}),
      /** Names its objects (`<routeName>-<name>`, `cluster-<name>`) and its default tool prefix. */
      name: v.optional(dnsLabel),
      /** The realm the cluster's API server trusts (its --oidc-issuer-url is `<keycloak.url>/realms/<realm>`). */
      realm: v.optional(dnsLabel),
      /** The cluster's kubeconfig, contents or path (a secret). */
      kubeconfig: v.optional(text),
      context: v.optional(text),
      clusterIdentifier: v.optional(text),
      /** Port of its kubernetes-mcp-server on the host. */
      port: v.optional(port),
      /** Host name of its route and listener (the gateway's router tells servers apart by it). */
      host: v.optional(dnsName),
      toolPrefix: v.optional(toolPrefix(release)),
    }),
    required("name", "a DNS label naming this cluster, such as 'b'"),
    required("realm", "the Keycloak realm this cluster's API server trusts"),
    // An existing cluster needs its kubeconfig; a Kind cluster the stack creates has Kind's, and
    // takes no other (it would be silently unused).
    rule(["cluster", "kubeconfig"], "kubeconfig", (d) =>
      d.cluster.mode === "existing" && d.kubeconfig === undefined
        ? {
            value: undefined,
            expected:
              "the cluster's kubeconfig (contents or path): pulumi config set --secret --path 'domains[0].kubeconfig' \"$(cat b.kubeconfig)\" (or set domains[0].cluster.mode to 'kind' to have the stack create a Kind cluster)",
          }
        : undefined,
    ),
    rule(["cluster", "kubeconfig", "context"], "kubeconfig", (d) =>
      d.cluster.mode === "kind" && (d.kubeconfig !== undefined || d.context !== undefined)
        ? {
            value: d.kubeconfig,
            expected:
              "no kubeconfig or context when cluster.mode is 'kind': the stack creates that Kind cluster and reads its kubeconfig from Kind",
          }
        : undefined,
    ),
    required("port", "a free port on the host for this cluster's kubernetes-mcp-server"),
    required("host", "the host name of this cluster's route, unlike every other server's"),
    // Runs only without problems, so the required fields are set.
    v.transform((d) => ({
      name: d.name!,
      realm: d.realm!,
      cluster:
        d.cluster.mode === "kind"
          ? { mode: "kind" as const, name: d.cluster.name ?? `mcp-${d.name}` }
          : { mode: "existing" as const },
      // Kind mode: none (Kind's is read when the cluster exists).
      kubeconfig: d.kubeconfig === undefined ? undefined : pulumi.secret(d.kubeconfig),
      context: d.context,
      clusterIdentifier:
        d.clusterIdentifier ??
        (d.cluster.mode === "kind" ? `kind-${d.cluster.name ?? `mcp-${d.name}`}` : `domain-${d.name}`),
      port: d.port!,
      host: d.host!,
      toolPrefix: d.toolPrefix ?? domainToolPrefix(d.name!),
    })),
  );
}

const DOMAIN_UNIQUE = ["name", "realm", "port", "host", "toolPrefix"] as const;

/**
 * Fields a further cluster must not share with the gateway's cluster (mcpServer, keycloak.realm) or
 * another one: the gateway and Keycloak tell them apart by these. Each clash, at the later cluster.
 */
function sharedByServers(c: {
  mcpServer: { port: number; host: string; toolPrefix: string };
  keycloak: { realm: string };
  domains: { name: string; realm: string; port: number; host: string; toolPrefix: string }[];
}): { index: number; field: (typeof DOMAIN_UNIQUE)[number]; value: unknown; expected: string }[] {
  const gateway = { name: undefined, ...c.mcpServer, realm: c.keycloak.realm };
  return c.domains.flatMap((d, i) =>
    DOMAIN_UNIQUE.filter((field) => [gateway, ...c.domains.slice(0, i)].some((o) => o[field] === d[field])).map(
      (field) => ({
        index: i,
        field,
        value: d[field],
        expected: `a ${field} of its own (mcpServer and keycloak.realm are the gateway cluster's, and no two clusters share one)`,
      }),
    ),
  );
}

/**
 * Use case 3 names a further cluster's objects `<gateway cluster's name>-<name>` (stacks/stack.ts, domainEndpoint):
 * each part may fit its limit while the whole does not. Each such name, at the cluster's name.
 */
function overlongNames(c: {
  mcpServer: { serviceName: string; routeName: string; serverName: string };
  domains: { name: string }[];
}): { index: number; field: "name"; value: string; expected: string }[] {
  const m = c.mcpServer;
  return c.domains.flatMap(({ name }, index) =>
    (
      [
        ["its Service", "<mcpServer.serviceName>-<name>", `${m.serviceName}-${name}`, 63],
        ["its AuthPolicy", "<mcpServer.routeName>-<name>-auth-policy", `${m.routeName}-${name}-auth-policy`, 253],
        ["its MCPServer", "<mcpServer.serverName>-<name>", `${m.serverName}-${name}`, 253],
      ] as const
    )
      .filter(([, , derived, max]) => derived.length > max)
      .map(([what, pattern, derived, max]) => ({
        index,
        field: "name" as const,
        value: name,
        expected: `a name of at most ${max - (derived.length - name.length)} characters: ${what} is named '${pattern}' ('${derived}'), a ${max === 63 ? "DNS label of at most 63" : "DNS name of at most 253"}`,
      })),
  );
}

/**
 * Kind names a cluster's node container `<name>-control-plane` and its kubeconfig context
 * `kind-<name>`: each Kind cluster of the stack needs a name of its own, the gateway's included
 * (cluster.name, in kind mode). Each clash, at the later cluster's `cluster.name`.
 */
function kindNameClashes(c: {
  cluster: { mode: string; kind: { name: string } };
  domains: { cluster: { mode: string; name?: string } }[];
}): { index: number; value: string; expected: string }[] {
  const taken = c.cluster.mode === "kind" ? [c.cluster.kind.name] : [];
  return c.domains.flatMap(({ cluster }, index) => {
    if (cluster.mode !== "kind" || cluster.name === undefined) return [];
    const name = cluster.name;
    const problems =
      name.length > 63
        ? [{ index, value: name, expected: "a Kind cluster name of at most 63 characters (set cluster.name)" }]
        : taken.includes(name)
          ? [
              {
                index,
                value: name,
                expected:
                  "a Kind cluster name of its own (cluster.name of the gateway's cluster and of every further cluster in kind mode differ)",
              },
            ]
          : [];
    taken.push(name);
    return problems;
  });
}

/**
 * Use case 3 on the gateway's own Keycloak (config/keycloak/deployment.yaml of its Kind setup): the
 * stack patches that Deployment so it can chain (components/keycloakChaining.ts). On by default in
 * kind mode, where the stack made that Keycloak; off on an existing cluster, whose Keycloak may be
 * anyone's (set `patch` true for the guide's Kind cluster made by hand).
 */
const KEYCLOAK_IMAGE =
  "an image whose tag is a Keycloak version of 26.5 or newer, such as quay.io/keycloak/keycloak:26.7.3 (26.5 and 26.6 get the jwt-authorization-grant feature; earlier versions have no JWT authorization grant)";
const InClusterKeycloak = group("inClusterKeycloak", {
  patch: v.optional(boolean),
  image: v.optional(
    passing((i) => grantSupport(i) !== "none", KEYCLOAK_IMAGE),
    DEFAULT_CHAINING_IMAGE,
  ),
});

/** A group only oidc reads: in no-auth it must still be an object, and is dropped. */
const unread = (name: string) =>
  v.optional(
    v.pipe(
      v.looseObject({}, notAnObject(name)),
      v.transform(() => undefined),
    ),
  );

/** The domains only cross-domain reads: elsewhere the list is dropped. */
const unreadList = v.optional(
  v.pipe(
    v.array(v.unknown(), "a list"),
    v.transform(() => undefined),
  ),
);

/** The whole config; a release picks some defaults and the tool prefix's pattern. */
function stackSchema(release: GatewayRelease) {
  const topLevel = <E extends v.ObjectEntries>(entries: E) =>
    v.objectWithRest(entries, v.never(`one of the keys ${Object.keys(entries).join(", ")}`));
  // valibot would report a missing list as "Invalid key"; the rule says what to set.
  const crossDomain = <E extends v.ObjectEntries & { domains: v.GenericSchema<unknown, unknown[] | undefined> }>(
    entries: E,
  ) =>
    v.pipe(
      topLevel(entries),
      required(
        "domains",
        "a list of clusters besides the gateway's when useCase is 'cross-domain': pulumi config set --path 'domains[0].name' b (and realm, kubeconfig or cluster.mode kind, port, host)",
      ),
      // Runs only without problems, so the list is there.
      v.transform((c) => ({ ...c, domains: c.domains! })),
    );
  const cluster = v.optional(clusterSchema(release), {});
  const mcpServer = v.optional(mcpServerSchema(release), {});
  const gateway = v.optional(Gateway, {});
  // The use case picks the shape: keycloak and oidc are read (and the admin password required) only
  // for oidc and cross-domain, domains only for cross-domain.
  const useCases = v.variant(
    "useCase",
    [
      topLevel({
        useCase: v.optional(v.literal("no-auth"), "no-auth"),
        cluster,
        mcpServer,
        gateway,
        keycloak: unread("keycloak"),
        oidc: unread("oidc"),
        domains: unreadList,
        inClusterKeycloak: unread("inClusterKeycloak"),
      }),
      topLevel({
        useCase: v.literal("oidc"),
        cluster,
        mcpServer,
        gateway,
        keycloak: v.optional(keycloakSchema(release), {}),
        oidc: v.optional(Oidc, {}),
        domains: unreadList,
        inClusterKeycloak: unread("inClusterKeycloak"),
      }),
      crossDomain({
        useCase: v.literal("cross-domain"),
        cluster,
        mcpServer,
        gateway,
        keycloak: v.optional(keycloakSchema(release), {}),
        oidc: v.optional(Oidc, {}),
        domains: v.optional(
          v.pipe(
            v.array(domainSchema(release), "a list of clusters (name, realm, kubeconfig, port, host)"),
            v.minLength(1, "at least one cluster besides the gateway's when useCase is 'cross-domain'"),
          ),
        ),
        inClusterKeycloak: v.optional(InClusterKeycloak, {}),
      }),
    ],
    oneOf(USE_CASES),
  );
  return v.pipe(
    useCases,
    // The server's address depends on the cluster: where Kind's nodes reach the host, else loopback.
    // The in-cluster Keycloak is patched by default where the stack made it (kind mode).
    v.transform((c) => ({
      ...c,
      ...(c.useCase === "cross-domain" && {
        inClusterKeycloak: {
          image: c.inClusterKeycloak.image,
          patch: c.inClusterKeycloak.patch ?? c.cluster.mode === "kind",
        },
      }),
      mcpServer: {
        ...c.mcpServer,
        bindAddress: c.mcpServer.bindAddress ?? (c.cluster.mode === "kind" ? KIND_NETWORK : "127.0.0.1"),
      },
    })),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed || dataset.value.useCase !== "cross-domain") return;
      const { domains } = dataset.value;
      for (const { index, field, value, expected } of [
        ...sharedByServers(dataset.value),
        ...overlongNames(dataset.value),
      ]) {
        const path: v.IssuePathItem[] = [
          { type: "object", origin: "value", input: dataset.value, key: "domains", value: domains },
          { type: "array", origin: "value", input: domains, key: index, value: domains[index] },
          { type: "object", origin: "value", input: domains[index], key: field, value },
        ];
        addIssue({ message: expected, input: value, path: path as [v.IssuePathItem] });
      }
      for (const { index, value, expected } of kindNameClashes(dataset.value)) {
        const cluster = domains[index].cluster;
        const path: v.IssuePathItem[] = [
          { type: "object", origin: "value", input: dataset.value, key: "domains", value: domains },
          { type: "array", origin: "value", input: domains, key: index, value: domains[index] },
          { type: "object", origin: "value", input: domains[index], key: "cluster", value: cluster },
          { type: "object", origin: "value", input: cluster, key: "name", value },
        ];
        addIssue({ message: expected, input: value, path: path as [v.IssuePathItem] });
      }
    }),
  );
}

export type StackConfig = v.InferOutput<ReturnType<typeof stackSchema>>;
export type ClusterConfig = StackConfig["cluster"];
export type KindClusterConfig = ClusterConfig["kind"];
export type McpServerConfig = StackConfig["mcpServer"];
export type GatewayConfig = StackConfig["gateway"];
export type KeycloakConfig = v.InferOutput<ReturnType<typeof keycloakSchema>>;
export type OidcConfig = v.InferOutput<typeof Oidc>;
export type DomainConfig = v.InferOutput<ReturnType<typeof domainSchema>>;

/** Top-level config keys (each an object except `useCase`). */
export const CONFIG_KEYS = Object.keys(stackSchema(DEFAULT_RELEASE).pipe[0].options[0].entries);

// ---- Reading --------------------------------------------------------------------------------

/** The realm's issuer as tokens name it (`iss`): the AuthPolicy's jwt.issuerUrl, the binding's prefix. */
export function issuerUrl(kc: Pick<KeycloakConfig, "url" | "realm">): string {
  return `${kc.url}/realms/${kc.realm}`;
}

/** Raw config as the engine hands it over: this project's values by key (objects parsed). */
export interface RawConfig {
  values: Partial<Record<string, unknown>>;
  /**
   * Keys the engine marks secret (the whole top-level key, when any field under it was set with
   * --secret): their values are never shown, and a secret field must be under one of them. None
   * when not given.
   */
  secretKeys?: readonly string[];
}

/**
 * Whether a kubeconfig value is a path (one line, not JSON) rather than contents. A path is not
 * sensitive and may stay in clear; contents hold credentials.
 */
export const isKubeconfigPath = (value: string) => !value.includes("\n") && !value.trimStart().startsWith("{");

/** The command that sets a kubeconfig field (`cluster.kubeconfig`, `domains[0].kubeconfig`) to its contents, secret. */
export function setKubeconfigCommand(field: string): string {
  const [key, file] = field.startsWith("domains") ? [`'${field}'`, "b.kubeconfig"] : [field, "~/.kube/config"];
  return `pulumi config set --secret --path ${key} "$(cat ${file})"`;
}

/** A field of a group as given, whatever its shape. */
const fieldOf = (group: unknown, key: string): unknown =>
  typeof group === "object" && group !== null ? (group as Record<string, unknown>)[key] : undefined;

/**
 * Secret fields set without --secret: their values sit in clear in Pulumi.<stack>.yaml. Each with
 * the command that sets it secret.
 */
function secretsInClear(values: RawConfig["values"], secretKeys: readonly string[]): string[] {
  const clear = (key: string) => !secretKeys.includes(key);
  const contents = (k: unknown) => typeof k === "string" && !isKubeconfigPath(k);
  const kubeconfig = (key: string) =>
    `${PROJECT}:${key} = ${HIDDEN}: expected kubeconfig contents set as a secret, not in clear in Pulumi.<stack>.yaml (a path may stay in clear): ${setKubeconfigCommand(key)}`;
  const domains = Array.isArray(values.domains) ? values.domains : [];
  return [
    ...(clear("keycloak") && fieldOf(values.keycloak, "adminPassword") !== undefined
      ? [
          `${PROJECT}:keycloak.adminPassword = ${HIDDEN}: expected a secret, not a value in clear in Pulumi.<stack>.yaml: pulumi config set --secret --path keycloak.adminPassword <password>`,
        ]
      : []),
    ...(clear("cluster") && contents(fieldOf(values.cluster, "kubeconfig")) ? [kubeconfig("cluster.kubeconfig")] : []),
    ...(clear("domains")
      ? domains.flatMap((d, i) => (contents(fieldOf(d, "kubeconfig")) ? [kubeconfig(`domains[${i}].kubeconfig`)] : []))
      : []),
  ];
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

function show(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : JSON.stringify(value);
}

/**
 * Whether a problem may print its value: never a secret field's, nor any under a key the engine
 * marks secret, nor an unknown key's (a misspelt key may be a misspelt secret), nor a whole
 * group's (it may hold a secret). An unset value reveals nothing, so it is shown.
 */
function mayShow(issue: v.BaseIssue<unknown>, path: string[], secretKeys: readonly string[]): boolean {
  if (issue.input === undefined) return true;
  if (issue.type === "never") return false;
  if (path.length === 1 && path[0] !== "useCase") return false;
  // A domain as a whole holds its kubeconfig.
  if (path[0] === "domains" && path.length === 2) return false;
  const field = path.map((key) => (/^\d+$/.test(key) ? "*" : key)).join(".");
  return !SECRET_FIELDS.includes(field) && !secretKeys.includes(path[0]);
}

function problemOf(issue: v.BaseIssue<unknown>, secretKeys: readonly string[]): string {
  const path = (issue.path ?? []).map((item) => String(item.key));
  const value = mayShow(issue, path, secretKeys) ? show(issue.input) : HIDDEN;
  // As `pulumi config set --path` names it: domains[0].port.
  const key = path.map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
  return `${PROJECT}:${key} = ${value}: expected ${issue.message}`;
}

/** gateway.release picks some defaults, so it is read first; a bad one is reported by the full parse. */
function releaseOf(values: RawConfig["values"]): GatewayRelease {
  const gateway = v.safeParse(v.looseObject({ release: Release }), values.gateway ?? {});
  return gateway.success ? gateway.output.release : DEFAULT_RELEASE;
}

/** Validates raw config (no I/O). Throws one ConfigError listing every problem. */
export function parseStackConfig(raw: RawConfig): StackConfig {
  const secretKeys = raw.secretKeys ?? [];
  // Values of a key without a secret field become resource inputs and outputs in clear text.
  const unkeptSecrets = secretKeys.filter(
    (key) => CONFIG_KEYS.includes(key) && !SECRET_FIELDS.some((field) => field.startsWith(`${key}.`)),
  );
  const result = v.safeParse(stackSchema(releaseOf(raw.values)), raw.values);
  const problems = [
    ...unkeptSecrets.map(
      (key) =>
        `${PROJECT}:${key} = ${HIDDEN}: expected no secret here: the stack keeps only ${SECRET_FIELDS.join(" and ")} secret; set ${key} without --secret`,
    ),
    ...secretsInClear(raw.values, secretKeys),
    ...(result.issues ?? []).map((issue) => problemOf(issue, secretKeys)),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.output;
}

/** Reads this project's config from the Pulumi engine and validates it. */
export function loadStackConfig(): StackConfig {
  // @pulumi/pulumi exports isConfigSecret at run time but marks it internal (no typing); a unit test
  // fails if it goes away.
  const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };
  const values: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    const [project, key] = fullKey.split(":", 2);
    // Pulumi.yaml declares every key with an empty default; the schema fills an unset one.
    if (project !== PROJECT || key === undefined || text === "") continue;
    values[key] = parseConfigText(text);
    if (isConfigSecret(fullKey)) secretKeys.push(key);
  }
  try {
    return parseStackConfig({ values, secretKeys });
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
