import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import type * as crds from "./crds";
import type { ReleaseFacts } from "./gatewayRelease";

export interface McpServerRouteArgs {
  /** The Gateway the route attaches to (GatewayListener.gatewayRef: the route then waits for the listener). */
  gateway: { name: pulumi.Input<string>; namespace: pulumi.Input<string> };
  namespace: string;
  routeName: string;
  serviceName: string;
  serverName: string;
  /** Host name under which the cluster reaches the MCP server on the host. */
  host: string;
  port: number;
  path: string;
  toolPrefix: string;
  /** The gateway release's registration kind and naming (components/gatewayRelease.ts). */
  release: ReleaseFacts;
}

type In<T> = pulumi.Input<T>;

export function httpRouteSpec(a: {
  gatewayName: In<string>;
  gatewayNamespace: In<string>;
  host: string;
  path: string;
  serviceName: In<string>;
  port: number;
}) {
  return {
    parentRefs: [
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: a.gatewayName, namespace: a.gatewayNamespace },
    ],
    hostnames: [a.host],
    rules: [
      {
        matches: [{ path: { type: "PathPrefix", value: a.path } }],
        backendRefs: [{ group: "", kind: "Service", name: a.serviceName, port: a.port }],
      },
    ],
  } satisfies crds.Inputs<crds.HTTPRouteSpec>;
}

export function externalServiceSpec(a: { host: string; port: number }) {
  return {
    type: "ExternalName",
    externalName: a.host,
    ports: [{ name: "http", port: a.port, targetPort: a.port, protocol: "TCP", appProtocol: "http" }],
  };
}

/** Lets the mesh reach the host outside it; the port name is the guide's. */
export function serviceEntrySpec(a: { host: In<string>; port: number }) {
  return {
    hosts: [a.host],
    ports: [{ number: a.port, name: "https", protocol: "HTTP" }],
    location: "MESH_EXTERNAL",
    resolution: "DNS",
  } satisfies crds.Inputs<crds.ServiceEntrySpec>;
}

/** The registration's spec: MCPServer (`toolPrefix`) or MCPServerRegistration (`prefix`). */
export function registrationSpec(a: {
  release: ReleaseFacts;
  toolPrefix: string;
  routeName: In<string>;
  routeNamespace: In<string>;
}) {
  const targetRef = { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: a.routeName } as const;
  // Kuadrant's controller reads the route from the registration's own namespace only.
  return a.release.registration.prefixField === "toolPrefix"
    ? ({
        toolPrefix: a.toolPrefix,
        targetRef: { ...targetRef, namespace: a.routeNamespace },
      } satisfies crds.Inputs<crds.MCPServerSpec>)
    : ({ prefix: a.toolPrefix, targetRef } satisfies crds.Inputs<crds.MCPServerRegistrationSpec>);
}

/**
 * Registers an MCP server that runs outside the cluster: HTTPRoute -> ExternalName Service
 * -> ServiceEntry, and the MCPServer resource that points the gateway's broker at the route.
 */
export class McpServerRoute extends pulumi.ComponentResource {
  public readonly route: k8s.apiextensions.CustomResource;
  public readonly service: k8s.core.v1.Service;
  public readonly serviceEntry: k8s.apiextensions.CustomResource;
  public readonly mcpServer: k8s.apiextensions.CustomResource;
  /**
   * What the router sends as x-mcp-servername, so the Keycloak client id: `<namespace>/<route>`
   * (kagenti) or `<namespace>/<registration>` (Kuadrant).
   */
  public readonly serverId: pulumi.Output<string>;
  public readonly routeName: pulumi.Output<string>;
  public readonly routeNamespace: pulumi.Output<string>;

  constructor(name: string, args: McpServerRouteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:mcp:ServerRoute", name, {}, opts);

    this.service = new k8s.core.v1.Service(
      `${name}-external`,
      {
        metadata: { name: args.serviceName, namespace: args.namespace },
        spec: externalServiceSpec(args),
      },
      childOptions(this, opts),
    );

    this.serviceEntry = new k8s.apiextensions.CustomResource(
      `${name}-service-entry`,
      {
        apiVersion: "networking.istio.io/v1beta1",
        kind: "ServiceEntry",
        metadata: { name: args.routeName, namespace: args.namespace },
        spec: serviceEntrySpec({ host: this.service.spec.externalName, port: args.port }),
      } satisfies crds.ServiceEntryArgs,
      childOptions(this, opts),
    );

    this.route = new k8s.apiextensions.CustomResource(
      `${name}-route`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: args.routeName, namespace: args.namespace },
        spec: httpRouteSpec({
          gatewayName: args.gateway.name,
          gatewayNamespace: args.gateway.namespace,
          host: args.host,
          path: args.path,
          serviceName: this.service.metadata.name,
          port: args.port,
        }),
      } satisfies crds.HTTPRouteArgs,
      childOptions(this, opts),
    );
    this.routeName = this.route.metadata.name;
    this.routeNamespace = this.route.metadata.namespace;

    const { apiVersion, kind, prefixField } = args.release.registration;
    this.mcpServer = new k8s.apiextensions.CustomResource(
      `${name}-mcp-server`,
      {
        apiVersion,
        kind,
        metadata: { name: args.serverName, namespace: args.namespace },
        spec: registrationSpec({
          release: args.release,
          toolPrefix: args.toolPrefix,
          routeName: this.routeName,
          routeNamespace: this.routeNamespace,
        }),
      } satisfies crds.RegistrationArgs,
      // The prefix is immutable once set (a CEL rule of the CRD): changing it must replace, and
      // the old object must go first, since the new one has the same name.
      childOptions(this, opts, { replaceOnChanges: [`spec.${prefixField}`], deleteBeforeReplace: true }),
    );
    this.serverId =
      args.release.serverIdFrom === "route"
        ? pulumi.interpolate`${this.routeNamespace}/${this.routeName}`
        : pulumi.interpolate`${this.mcpServer.metadata.namespace}/${this.mcpServer.metadata.name}`;
    this.registerOutputs({ serverId: this.serverId });
  }
}
