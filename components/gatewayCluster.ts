import * as fs from "node:fs";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import type { GatewayCheckout } from "./gatewayCheckout";

/** Kubeconfig contents, from contents or a path (the forms `cluster.kubeconfig` accepts). */
export function kubeconfigContents(
  contentsOrPath: string,
  readFile: (path: string) => string | undefined = (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined),
): string {
  return (!contentsOrPath.includes("\n") && readFile(contentsOrPath)) || contentsOrPath;
}

export interface GatewayClusterArgs {
  /** `kind`: create the cluster with the gateway's make targets; `existing`: use a kubeconfig. */
  mode: "kind" | "existing";
  /** The MCP Gateway checkout whose Makefile creates the cluster (mode `kind`). */
  checkout?: GatewayCheckout;
  /** Mode `kind`: the cluster name the Makefile creates (its KIND_CLUSTER_NAME). */
  kindClusterName?: string;
  /** Mode `existing`: kubeconfig contents or path, a secret. */
  kubeconfig?: pulumi.Input<string>;
  context?: string;
  /** Stable identity: a re-read kubeconfig then updates the provider instead of replacing everything. */
  clusterIdentifier: string;
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

    if (args.mode === "kind") {
      if (!args.checkout || !args.kindClusterName)
        throw new Error("GatewayCluster: mode 'kind' needs the MCP Gateway checkout and the Kind cluster's name");
      const environment = { KIND_CLUSTER_NAME: args.kindClusterName };
      this.setup = new command.local.Command(
        `${name}-local-env`,
        {
          dir: args.checkout.dir,
          create: "make local-env-setup",
          delete: "make local-env-teardown",
          environment,
        },
        // Another cluster name is another cluster: tear the old one down first (after every object
        // on it is gone, as its dependents are replaced too), then create the new one.
        childOptions(this, opts, { replaceOnChanges: ["environment"], deleteBeforeReplace: true }),
      );
      const readKubeconfig = new command.local.Command(
        `${name}-kubeconfig`,
        {
          // The Makefile installs kind into the checkout's bin/.
          dir: this.setup.dir.apply((d) => d ?? "."),
          create: 'bin/kind get kubeconfig --name "$KIND_CLUSTER_NAME"',
          environment,
          // Never print the kubeconfig: it holds the cluster's admin client key.
          logging: "stderr",
        },
        childOptions(this, opts, { additionalSecretOutputs: ["stdout"] }),
      );
      this.kubeconfig = pulumi.secret(readKubeconfig.stdout);
    } else {
      if (args.kubeconfig === undefined) throw new Error("GatewayCluster: mode 'existing' needs a kubeconfig");
      // Contents from here on: the provider, the MCP server and the setup step all get the same.
      this.kubeconfig = pulumi.secret(pulumi.output(args.kubeconfig).apply((k) => kubeconfigContents(k)));
    }

    this.provider = new k8s.Provider(
      `${name}-provider`,
      {
        kubeconfig: this.kubeconfig,
        context: args.context,
        clusterIdentifier: args.clusterIdentifier,
        // Kind only: after `make local-env-teardown` the API server is gone, so drop state instead
        // of failing. On an existing cluster an outage must fail the destroy, not forget objects.
        deleteUnreachable: args.mode === "kind",
        enableServerSideApply: true,
      },
      childOptions(this, opts),
    );
    this.registerOutputs({ kubeconfig: this.kubeconfig });
  }
}
