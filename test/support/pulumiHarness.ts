/**
 * Runs the stack's program under Pulumi mocks and records what reaches the resource monitor:
 * type, name, parent, dependencies, provider and inputs as the engine would see them
 * (secrets still wrapped), for every resource.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig, PROJECT, type StackConfig } from "../../stacks/config";
import { buildStack, type StackOutputs } from "../../stacks/stack";

// Internal but stable since 3.x: resolves once every queued RPC (registration) has finished.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

export const REPO_ROOT = path.resolve(__dirname, "../..");
// The program reads what the stack left on the host (pid files, markers): never the machine's own.
process.env.XDG_STATE_HOME = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-unit-state-"));
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export const FAKE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: kind-mcp-gateway
    cluster:
      server: https://127.0.0.1:6443
contexts:
  - name: kind-mcp-gateway
    context:
      cluster: kind-mcp-gateway
      user: kind
current-context: kind-mcp-gateway
users:
  - name: kind
    user:
      client-certificate-data: Q0VSVC1EQVRBLUZST00tS0lORA==
      client-key-data: S0VZLURBVEEtRlJPTS1LSU5E
`;
/** What the mocked reads find: the Gateway's address and the CA of its `keycloak` listener. */
export const FAKE_GATEWAY_ADDRESS = "172.18.255.200";
export const FAKE_GATEWAY_CA = "-----BEGIN CERTIFICATE-----\nMIIfake-gateway-ca\n-----END CERTIFICATE-----\n";
export const FAKE_CHECKOUT = "/home/user/mcp-gateway";
export const FAKE_PID = "4242";
/** The secret Keycloak "generates" for the gateway's client (the regeneration step's stdout). */
export const FAKE_CLIENT_SECRET = "kc-generated-client-secret-9f3a";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  /** Parent URN ('' for the stack's root). */
  parent: string;
  dependencies: string[];
  /** Provider reference `<provider urn>::<id>` ('' for the default provider). */
  provider: string;
  /** For each input property, the URNs its value came from (Output data links). */
  propertyDependencies: Record<string, string[]>;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, any>;
  /** Inputs as sent, secrets still wrapped in the engine's secret envelope. */
  wire: unknown;
  /** The resource options the engine acts on (not visible in inputs). */
  options: ResourceOptionsSeen;
}

export interface ResourceOptionsSeen {
  aliases: string[];
  additionalSecretOutputs: string[];
  replaceOnChanges: string[];
  ignoreChanges: string[];
  deleteBeforeReplace: boolean;
  retainOnDelete: boolean;
  protect: boolean;
}

export interface Invoked {
  token: string;
  inputs: Record<string, any>;
}

export interface StackRun {
  config: StackConfig;
  resources: Registered[];
  invokes: Invoked[];
  outputs: StackOutputs;
  byName(name: string): Registered;
  ofType(type: string): Registered[];
}

/** Fake outputs of the local commands, by command name, as a real run would print them. */
function commandStdout(name: string): string {
  if (name.endsWith("-git")) return `${FAKE_CHECKOUT}\n`;
  if (name.endsWith("-kubeconfig")) return FAKE_KUBECONFIG;
  if (name.endsWith("-process")) return `${FAKE_PID}\n`;
  if (name.endsWith("-regenerate")) return FAKE_CLIENT_SECRET;
  return "";
}

/** Fake results of Keycloak lookups (reference mode): the objects a realm import created. */
function invokeResult(token: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (token) {
    case "keycloak:openid/getClient:getClient":
      return { ...inputs, id: "existing-client-uuid" };
    case "keycloak:index/getRole:getRole":
      return { ...inputs, id: `existing-role-${inputs.name}` };
    case "keycloak:index/getGroup:getGroup":
      return { ...inputs, id: "existing-group-id" };
    case "keycloak:index/getUser:getUser":
      return { ...inputs, id: "existing-user-id" };
    default:
      throw new Error(`unexpected invoke ${token}`);
  }
}

export async function runStack(values: Record<string, unknown>, opts: { preview?: boolean } = {}): Promise<StackRun> {
  const resources: Registered[] = [];
  const invokes: Invoked[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "command:local:Command") state.stdout = commandStdout(args.name);
        // Reads (`Resource.get`) come with the id they read.
        if (args.id && args.type === "kubernetes:gateway.networking.k8s.io/v1:Gateway")
          state.status = { addresses: [{ type: "IPAddress", value: FAKE_GATEWAY_ADDRESS }] };
        if (args.id && args.type === "kubernetes:core/v1:Secret")
          state.data = { "ca.crt": Buffer.from(FAKE_GATEWAY_CA).toString("base64"), "tls.key": "S0VZ" };
        return { id: args.id || `${args.name}-id`, state };
      },
      call(args) {
        invokes.push({ token: args.token, inputs: args.inputs });
        return invokeResult(args.token, args.inputs);
      },
    },
    PROJECT,
    "dev",
    opts.preview ?? false,
    "organization",
  );

  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((deps: any, key: string) => {
      propertyDependencies[key] = deps.getUrnsList();
    });
    const wire = req.getObject()?.toJavaScript() ?? {};
    register(req, (err: unknown, resp: any) => {
      if (!err) {
        resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: resp.getUrn(),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          provider: req.getProvider(),
          propertyDependencies,
          inputs: unwrapSecrets(wire),
          wire,
          options: {
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            ignoreChanges: req.getIgnorechangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            retainOnDelete: req.getRetainondelete() ?? false,
            protect: req.getProtect() ?? false,
            // The SDK sends aliases as URNs or as specs, by what the monitor supports: both, as URNs or JSON.
            aliases: [
              ...req.getAliasurnsList(),
              ...req.getAliasesList().map((a: { toObject(): unknown }) => JSON.stringify(a.toObject())),
            ],
          },
        });
      }
      callback(err, resp);
    });
  };

  // The keys that hold secrets, as the engine marks them when the secrets are set with --secret.
  const config = parseStackConfig({ values, secretKeys: ["cluster", "keycloak", "domains"] });
  const { outputs } = buildStack(config, REPO_ROOT);
  await settled(settings.waitForRPCs());
  const byName = (name: string) => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}; have: ${resources.map((r) => r.name).join(", ")}`);
    return found;
  };
  return { config, resources, invokes, outputs, byName, ofType: (t) => resources.filter((r) => r.type === t) };
}

/** How long a mocked run may take: an error thrown inside an apply leaves the RPCs waiting forever. */
const RUN_TIMEOUT_MS = 60_000;

/**
 * The mocked run's end, or its first unhandled rejection (where an apply's error goes), or a
 * timeout that says so: never a test that hangs until vitest's own limit with no cause.
 */
async function settled(rpcs: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onRejection: ((reason: unknown) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    onRejection = (reason) => reject(reason instanceof Error ? reason : new Error(String(reason)));
    process.on("unhandledRejection", onRejection);
    timer = setTimeout(
      () => reject(new Error(`the mocked stack did not settle in ${RUN_TIMEOUT_MS / 1000} s (an apply that threw?)`)),
      RUN_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([rpcs, failed]);
  } finally {
    clearTimeout(timer);
    if (onRejection) process.off("unhandledRejection", onRejection);
  }
}

export function isSecretEnvelope(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as any)[SECRET_SIG] === SECRET_VALUE;
}

export function unwrapSecrets(v: any): any {
  if (isSecretEnvelope(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

/** Paths where `needle` appears in `wire` outside a secret envelope. */
export function plaintextPaths(wire: unknown, needle: string, at = "$"): string[] {
  if (isSecretEnvelope(wire)) return [];
  if (typeof wire === "string") return wire.includes(needle) ? [at] : [];
  if (Array.isArray(wire)) return wire.flatMap((x, i) => plaintextPaths(x, needle, `${at}[${i}]`));
  if (typeof wire === "object" && wire !== null) {
    return Object.entries(wire).flatMap(([k, x]) => plaintextPaths(x, needle, `${at}.${k}`));
  }
  return [];
}

/** The provider URN a resource was registered with. */
export function providerUrn(r: Registered): string {
  return r.provider.split("::").slice(0, -1).join("::");
}

/** Values for an `oidc` run: only the use case and the admin password, as the issue asks. */
export const OIDC_PASSWORD = "s3cr3t-admin-password";
export const oidcValues = (extra: Record<string, unknown> = {}) => ({
  useCase: "oidc",
  keycloak: { adminPassword: OIDC_PASSWORD },
  ...extra,
});

/** Use case 3 with one more cluster, b, in realm cluster-b (a kubeconfig with a token of its own). */
const KUBECONFIG_B =
  "apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster:\n    server: https://127.0.0.1:6444\nusers:\n- name: b-admin\n  user:\n    token: CLUSTER-B-ADMIN-TOKEN\ncontexts:\n- name: b\n  context: {cluster: b, user: b-admin}\ncurrent-context: b\n";
export const DOMAIN_B = {
  name: "b",
  realm: "cluster-b",
  kubeconfig: KUBECONFIG_B,
  port: 9992,
  host: "kube-b.example.test",
};
export const crossDomainValues = (domains: unknown[] = [DOMAIN_B]) => oidcValues({ useCase: "cross-domain", domains });

/** A kubeconfig whose current context (dev) is not the one the stack is told to use (prod). */
export const TWO_CONTEXTS = `apiVersion: v1
kind: Config
clusters:
  - {name: dev-cluster, cluster: {server: "https://10.0.0.1:6443"}}
  - {name: prod-cluster, cluster: {server: "https://10.0.0.2:6443"}}
contexts:
  - {name: dev, context: {cluster: dev-cluster, user: dev-user}}
  - {name: prod, context: {cluster: prod-cluster, user: prod-user}}
current-context: dev
users:
  - {name: dev-user, user: {token: dev-token}}
  - {name: prod-user, user: {token: prod-token}}
`;

/** A kubeconfig file in a temp dir of its own. */
export function writeTemp(contents: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
  fs.writeFileSync(file, contents);
  return file;
}
