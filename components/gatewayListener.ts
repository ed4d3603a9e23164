import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import type * as crds from "./crds";

export interface GatewayListenerArgs {
  /** The Gateway someone else owns (created by the MCP Gateway's make targets). */
  gatewayName: string;
  gatewayNamespace: string;
  listenerName: string;
  hostname: string;
  port: number;
  /**
   * Name the patch's Server-Side Apply field manager (`fieldManager(listenerName)`); without it the
   * provider picks a random one per patch. Named, the manager's annotation is itself applied to the
   * Gateway, so a second named patch on the same Gateway conflicts on it: only the stack's first
   * listener keeps the name it always had (a new manager would leave the old one owning the listener
   * after destroy); further listeners (use case 3) are unnamed.
   */
  namedFieldManager?: boolean;
}

/** A listener of a Gateway (gateway.networking.k8s.io/v1), as its CRD has it. */
export type GatewayListenerSpec = crds.GatewayListener;

/** The listener the guide adds with `kubectl patch`: plain HTTP, routes from all namespaces. */
export function listenerSpec(args: GatewayListenerArgs): GatewayListenerSpec {
  return {
    name: args.listenerName,
    hostname: args.hostname,
    port: args.port,
    protocol: "HTTP",
    allowedRoutes: { namespaces: { from: "All" } },
  };
}

/** Field manager of the Server-Side Apply patch: one per listener, so each owns only its own. */
export function fieldManager(listenerName: string): string {
  return `mcp-gateway-stack-${listenerName}`;
}

/**
 * One listener patched onto a Gateway by Server-Side Apply. `spec.listeners` is a map list
 * keyed by `name`, so the patch owns exactly this entry: the Gateway's other listeners are
 * never touched, and deleting the patch removes only this listener. Ownership is never forced.
 */
export class GatewayListener extends pulumi.ComponentResource {
  public readonly listenerName: string;
  public readonly gatewayName: string;
  public readonly gatewayNamespace: string;
  public readonly patch: k8s.apiextensions.CustomResourcePatch;
  /** The Gateway, as outputs of the patch: a route that takes them waits for the listener. */
  public readonly gatewayRef: { name: pulumi.Output<string>; namespace: pulumi.Output<string> };

  constructor(name: string, args: GatewayListenerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:gateway:Listener", name, {}, opts);
    this.listenerName = args.listenerName;
    this.gatewayName = args.gatewayName;
    this.gatewayNamespace = args.gatewayNamespace;
    this.patch = new k8s.apiextensions.CustomResourcePatch(
      `${name}-patch`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: {
          name: args.gatewayName,
          namespace: args.gatewayNamespace,
          ...(args.namedFieldManager && {
            annotations: { "pulumi.com/patchFieldManager": fieldManager(args.listenerName) },
          }),
        },
        spec: { listeners: [listenerSpec(args)] },
      } satisfies crds.GatewayPatchArgs,
      childOptions(this, opts),
    );
    this.gatewayRef = { name: this.patch.metadata.name, namespace: this.patch.metadata.namespace };
    this.registerOutputs({});
  }
}
