import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { childOptions } from "./childOptions";
import type { GatewayCheckout } from "./gatewayCheckout";
import { hostStateRoot, readStateFile, restartGeneration, stackHostStateKey, stateDirShell } from "./hostState";
import { KEYCLOAK_CA_FILE, KIND_GET_KUBECONFIG, kindCreateScript, kindDeleteScript } from "./kindClusterConfig";

/** Kubeconfig contents, from contents or a path (the forms `cluster.kubeconfig` accepts). */
export function kubeconfigContents(
  contentsOrPath: string,
  readFile: (path: string) => string | undefined = (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined),
): string {
  return (!contentsOrPath.includes("\n") && readFile(contentsOrPath)) || contentsOrPath;
}

interface Named {
  name: string;
}
interface KubeconfigDoc {
  "current-context"?: string;
  contexts?: Array<Named & { context?: { cluster?: string; user?: string } }>;
  clusters?: Named[];
  users?: Named[];
}

/**
 * The kubeconfig cut to one context (`context`, or its current one), that context's cluster and
 * user, and that context current: every consumer (provider, MCP server, make steps) acts on the
 * cluster the stack was told, and holds no other cluster's credentials.
 */
export function kubeconfigForContext(kubeconfig: string, context?: string, key = "the kubeconfig"): string {
  const doc = parse(kubeconfig) as KubeconfigDoc | null;
  if (!doc || typeof doc !== "object") throw new Error(`${key}: expected a kubeconfig (a YAML mapping)`);
  const name = context ?? doc["current-context"];
  const chosen = doc.contexts?.find((c) => c.name === name);
  if (!chosen) {
    const known = (doc.contexts ?? []).map((c) => c.name).join(", ") || "none";
    throw new Error(
      name
        ? `${key}: expected a kubeconfig with the context '${name}', but its contexts are: ${known}`
        : `${key}: expected a kubeconfig with a current-context, or cluster.context set (its contexts are: ${known})`,
    );
  }
  const alreadyCut =
    doc.contexts?.length === 1 &&
    doc["current-context"] === chosen.name &&
    (doc.clusters ?? []).every((c) => c.name === chosen.context?.cluster) &&
    (doc.users ?? []).every((u) => u.name === chosen.context?.user);
  // Unchanged text when there is nothing to cut: no diff for a stack whose kubeconfig already was.
  if (alreadyCut) return kubeconfig;
  return stringify({
    ...doc,
    contexts: [chosen],
    clusters: (doc.clusters ?? []).filter((c) => c.name === chosen.context?.cluster),
    users: (doc.users ?? []).filter((u) => u.name === chosen.context?.user),
    "current-context": chosen.name,
  });
}

/** Single-quoted for sh. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// `make local-env-setup` prints Keycloak's admin user and password: never into logs or state.
const hideCredentials = `sed -u 's/\\(Admin credentials:\\).*/\\1 (not shown by mcp-gateway-stack)/'`;

// Runs make with its output filtered to stderr, exiting with make's status (sh has no pipefail).
// Make gets no fd 3: a process it leaves running would hold it open and hang the step.
const filteredMake = (
  target: string,
) => `make_status=$( { { make ${target} 3>&- 2>&1; echo $? >&3; } | ${hideCredentials} >&2; } 3>&1 )
[ "$make_status" -eq 0 ] || exit "$make_status"`;

/**
 * Kind mode's create: a cluster of that name that already exists is not this stack's. It is
 * refused, or taken as it is when `cluster.adopt` asks (and then left by destroy). Prints what
 * it did (`created` or `adopted`), which the delete step reads.
 */
export const kindSetupScript = (
  stateKey: string,
  adopt: boolean,
) => `# make local-env-setup, unless a Kind cluster of that name exists (${adopt ? "adopted" : "refused"})
set -eu
MCP_STATE_KEY=${shellQuote(stateKey)}
${stateDirShell}trap 'rm -rf "$lock"' EXIT
kind=bin/kind; [ -x "$kind" ] || kind=$(command -v kind || true)
if [ -n "$kind" ] && "$kind" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER_NAME"; then
  if [ ${adopt} = true ]; then
    echo "Kind cluster $KIND_CLUSTER_NAME exists: adopted as cluster.adopt asks; destroy will leave it" >&2
    made=adopted
  else
    echo "a Kind cluster named $KIND_CLUSTER_NAME already exists and this stack did not create it: set cluster.name to another name, delete it (kind delete cluster --name $KIND_CLUSTER_NAME), or set cluster.adopt to true to use it as it is (destroy then leaves it)" >&2
    exit 1
  fi
else
  ${filteredMake("local-env-setup")}
  made=created
fi
echo "\${MCP_CLUSTER_GENERATION:-0}" > "$state_dir/generation"
echo "$made" > "$state_dir/made"
echo "$made"
`;

/** An update (new script text, same cluster) keeps what the create did. */
export const kindUpdateScript = (stateKey: string) => `set -eu
MCP_STATE_KEY=${shellQuote(stateKey)}
${stateDirShell}trap 'rm -rf "$lock"' EXIT
case "\${PULUMI_COMMAND_STDOUT:-}" in adopted) made=adopted ;; *) made=created ;; esac
echo "$made" > "$state_dir/made"
echo "$made"
`;

/** Tears down only a cluster this stack created. */
export const kindTeardownScript = (
  stateKey: string,
) => `# make local-env-teardown, of a cluster this stack created (an adopted one is left)
set -eu
MCP_STATE_KEY=${shellQuote(stateKey)}
${stateDirShell}trap 'rm -rf "$lock"' EXIT
if [ "\${PULUMI_COMMAND_STDOUT:-}" = adopted ]; then
  echo "leaving Kind cluster $KIND_CLUSTER_NAME: the stack adopted it, it did not create it" >&2
else
  ${filteredMake("local-env-teardown")}
fi
rm -f "$state_dir/made" "$state_dir/generation"
`;

/** The Kind clusters that exist, or undefined when no kind binary can tell. */
export function kindClusters(kindBinaries: string[]): string[] | undefined {
  for (const bin of kindBinaries) {
    try {
      const out = execFileSync(bin, ["get", "clusters"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      return out
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
    } catch {
      // Not there, or no container runtime answering: try the next, else say nothing.
    }
  }
  return undefined;
}

export interface GatewayClusterArgs {
  /**
   * `kind`: create the cluster with the gateway's make targets; `existing`: use a kubeconfig;
   * `kind-direct`: create a Kind cluster with `kind create cluster` and a config of the stack's
   * (a further cluster of use case 3, whose API server trusts its realm).
   */
  mode: "kind" | "existing" | "kind-direct";
  /** The MCP Gateway checkout whose Makefile creates the cluster (mode `kind`). */
  checkout?: GatewayCheckout;
  /** Mode `kind`: the cluster name the Makefile creates (its KIND_CLUSTER_NAME). */
  kindClusterName?: string;
  /** Mode `kind`: take a cluster of that name that exists already, and leave it on destroy. */
  adopt?: boolean;
  /** Mode `kind`: the checkout's directory as configured (its bin/kind tells whether the cluster exists). */
  checkoutDir?: string;
  /** The project directory: keys the cluster's host state (what was made, restarts). */
  projectDir?: string;
  /** Mode `existing`: kubeconfig contents or path, a secret. */
  kubeconfig?: pulumi.Input<string>;
  context?: string;
  /** The config key the kubeconfig came from, for errors (default `cluster.kubeconfig`). */
  kubeconfigKey?: string;
  /** Stable identity: a re-read kubeconfig then updates the provider instead of replacing everything. */
  clusterIdentifier: string;
  /** Mode `kind-direct`: the Kind config, given the host path of the Keycloak CA file the create step writes. */
  kindConfig?: (caHostPath: string) => pulumi.Input<string>;
  /** Mode `kind-direct`: the PEM of the CA of Keycloak's certificate (public), written for the config's mount. */
  keycloakCa?: pulumi.Input<string>;
  /** Mode `kind-direct`: a line for the node's /etc/hosts (`<address> <host>`), or none. */
  nodeHosts?: pulumi.Input<string | undefined>;
}

/**
 * The cluster the MCP Gateway runs on and the one Kubernetes provider every object uses.
 *
 * `kind`: `make local-env-setup` on create, `make local-env-teardown` on delete, and the
 * kubeconfig read from Kind. `existing`: the kubeconfig the stack was given.
 */
export class GatewayCluster extends pulumi.ComponentResource {
  /** Kubeconfig contents or path; always a secret. */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly provider: k8s.Provider;
  /** The make step that created the cluster (mode `kind`), for steps that need it but no data of it. */
  public readonly setup?: command.local.Command;

  constructor(name: string, args: GatewayClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // Named KindCluster until it served existing clusters too: the alias keeps its (and its children's) state.
    super(
      "mcp-gateway-stack:cluster:GatewayCluster",
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: "mcp-gateway-stack:cluster:KindCluster" }],
      },
    );

    let clusterIdentifier: pulumi.Input<string> = args.clusterIdentifier;
    if (args.mode === "kind") {
      if (!args.checkout || !args.kindClusterName)
        throw new Error("GatewayCluster: mode 'kind' needs the MCP Gateway checkout and the Kind cluster's name");
      const clusterName = args.kindClusterName;
      const projectDir = args.projectDir ?? process.cwd();
      const stateKey = stackHostStateKey(projectDir, name);
      // A cluster this stack made that no longer exists (deleted out of band) is made again: the
      // generation enters the steps' environment (replacing them) and the provider's identity
      // (replacing every object, which the old cluster no longer holds).
      const stateDir = path.join(hostStateRoot(), stateKey);
      const clusters = kindClusters([path.resolve(projectDir, args.checkoutDir ?? ".", "bin/kind"), "kind"]);
      const gone =
        readStateFile(stateDir, "made") !== undefined && clusters !== undefined && !clusters.includes(clusterName);
      const generation = restartGeneration(readStateFile(stateDir, "generation"), gone);
      if (gone) pulumi.log.warn(`Kind cluster ${clusterName} no longer exists: this update creates it again`, this);
      // Only a restart adds a key: the environment of a cluster that never went away stays as it was.
      const environment: Record<string, string> = {
        KIND_CLUSTER_NAME: clusterName,
        ...(generation > 0 ? { MCP_CLUSTER_GENERATION: String(generation) } : {}),
      };
      clusterIdentifier = generation > 0 ? `${args.clusterIdentifier}-${generation}` : args.clusterIdentifier;
      this.setup = new command.local.Command(
        `${name}-local-env`,
        {
          dir: args.checkout.dir,
          create: kindSetupScript(stateKey, args.adopt ?? false),
          update: kindUpdateScript(stateKey),
          delete: kindTeardownScript(stateKey),
          environment,
          logging: "stderr",
        },
        // Another cluster name is another cluster: tear the old one down first (after every object
        // on it is gone, as its dependents are replaced too), then create the new one.
        childOptions(this, opts, {
          replaceOnChanges: ["environment"],
          deleteBeforeReplace: true,
          additionalSecretOutputs: ["stderr"],
        }),
      );
      const readKubeconfig = new command.local.Command(
        `${name}-kubeconfig`,
        {
          // The Makefile installs kind into the checkout's bin/.
          dir: this.setup.dir.apply((d) => d ?? "."),
          // An adopted cluster's checkout may never have run make, which installs bin/kind.
          create: args.adopt
            ? 'kind=bin/kind; [ -x "$kind" ] || kind=kind; "$kind" get kubeconfig --name "$KIND_CLUSTER_NAME"'
            : 'bin/kind get kubeconfig --name "$KIND_CLUSTER_NAME"',
          environment,
          // Never print the kubeconfig: it holds the cluster's admin client key.
          logging: "stderr",
        },
        childOptions(this, opts, { additionalSecretOutputs: ["stdout"] }),
      );
      this.kubeconfig = pulumi.secret(
        readKubeconfig.stdout.apply((k) => kubeconfigForContext(k, undefined, "kind get kubeconfig")),
      );
    } else if (args.mode === "kind-direct") {
      const made = this.kindDirect(name, args, opts);
      this.setup = made.create;
      this.kubeconfig = made.kubeconfig;
      clusterIdentifier = made.clusterIdentifier;
    } else {
      if (args.kubeconfig === undefined) throw new Error("GatewayCluster: mode 'existing' needs a kubeconfig");
      // Contents of the chosen context alone from here on: the provider, the MCP server and the
      // setup step all get the same.
      this.kubeconfig = pulumi.secret(
        pulumi
          .output(args.kubeconfig)
          .apply((k) =>
            kubeconfigForContext(kubeconfigContents(k), args.context, args.kubeconfigKey ?? "cluster.kubeconfig"),
          ),
      );
    }

    this.provider = new k8s.Provider(
      `${name}-provider`,
      {
        kubeconfig: this.kubeconfig,
        context: args.context,
        clusterIdentifier,
        // Kind only: after `make local-env-teardown` the API server is gone, so drop state instead
        // of failing. On an existing cluster an outage must fail the destroy, not forget objects.
        deleteUnreachable: args.mode !== "existing",
        enableServerSideApply: true,
      },
      childOptions(this, opts),
    );
    this.registerOutputs({ kubeconfig: this.kubeconfig });
  }

  /**
   * Mode `kind-direct`: `kind create cluster --name N --config FILE` on create, `kind delete
   * cluster --name N` on delete, and the kubeconfig from `kind get kubeconfig --name N`.
   */
  private kindDirect(
    name: string,
    args: GatewayClusterArgs,
    opts: pulumi.ComponentResourceOptions | undefined,
  ): { create: command.local.Command; kubeconfig: pulumi.Output<string>; clusterIdentifier: pulumi.Output<string> } {
    if (!args.kindClusterName || !args.kindConfig || args.keycloakCa === undefined)
      throw new Error("GatewayCluster: mode 'kind-direct' needs the Kind cluster's name, its config and Keycloak's CA");
    const clusterName = args.kindClusterName;
    const stateKey = stackHostStateKey(args.projectDir ?? process.cwd(), name);
    const stateDir = path.join(hostStateRoot(), stateKey);
    // As in mode `kind`: a cluster this stack made that is gone (deleted out of band) is made again.
    const clusters = kindClusters(["kind"]);
    const gone =
      readStateFile(stateDir, "made") !== undefined && clusters !== undefined && !clusters.includes(clusterName);
    const generation = restartGeneration(readStateFile(stateDir, "generation"), gone);
    if (gone) pulumi.log.warn(`Kind cluster ${clusterName} no longer exists: this update creates it again`, this);
    const environment = {
      KIND_CLUSTER_NAME: clusterName,
      MCP_KIND_CONFIG: args.kindConfig(path.join(stateDir, KEYCLOAK_CA_FILE)),
      MCP_KEYCLOAK_CA: args.keycloakCa,
      MCP_NODE_HOSTS: pulumi.output(args.nodeHosts).apply((h) => h ?? ""),
      ...(generation > 0 ? { MCP_CLUSTER_GENERATION: String(generation) } : {}),
    };
    const create = new command.local.Command(
      `${name}-kind`,
      {
        create: kindCreateScript(stateKey),
        // A new version of the scripts alone is the same cluster (without an update, create would run again).
        update: "true",
        delete: kindDeleteScript(stateKey),
        environment,
        logging: "stderr",
      },
      // An API server's flags are fixed when Kind creates it: any change of what it gets is another
      // cluster, and the old one (same name) goes first.
      childOptions(this, opts, {
        replaceOnChanges: ["environment"],
        deleteBeforeReplace: true,
        additionalSecretOutputs: ["stderr"],
      }),
    );
    const readKubeconfig = new command.local.Command(
      `${name}-kubeconfig`,
      {
        create: KIND_GET_KUBECONFIG,
        environment: { KIND_CLUSTER_NAME: clusterName },
        // Read again for every new cluster (a new create has a new id).
        triggers: [create.id],
        // Never print the kubeconfig: it holds the cluster's admin client key.
        logging: "stderr",
      },
      childOptions(this, opts, { additionalSecretOutputs: ["stdout"] }),
    );
    return {
      create,
      kubeconfig: pulumi.secret(
        readKubeconfig.stdout.apply((k) => kubeconfigForContext(k, undefined, "kind get kubeconfig")),
      ),
      // Each cluster Kind creates is another cluster (the objects on the old one are gone with it):
      // the provider, and every object through it, is replaced with it.
      clusterIdentifier: pulumi.interpolate`${args.clusterIdentifier}-${create.id}`,
    };
  }
}
