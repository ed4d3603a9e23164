/**
 * Registrations the gateway's controller cannot use, built with the stack's own spec builders and
 * one thing wrong each. The unit tests show the policy pack refuses each; the real-engine test
 * applies them next to the stack's and shows what the controller (guide-fd2e9da) says of each.
 */
import { RELEASE_FACTS } from "../../components/gatewayRelease";
import { externalServiceSpec, httpRouteSpec, registrationSpec } from "../../components/mcpServerRoute";
import { HTTP_ROUTE_TYPE, MCP_SERVER_TYPE, SERVICE_TYPE, type SeenResource } from "../../policy/rules";

const NAMESPACE = "mcp-test";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: Record<string, any>;
}

export interface BrokenRegistration {
  title: string;
  name: string;
  objects: Manifest[];
  /** What the controller's Ready condition says, or the URL it hands the broker. */
  controller: { readyMessage: string } | { brokerUrl: string };
}

const meta = (name: string) => ({ name, namespace: NAMESPACE });
const service = (name: string, spec: Record<string, any>): Manifest => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: meta(name),
  spec,
});
const route = (name: string, spec: Record<string, any>): Manifest => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: meta(name),
  spec,
});
const server = (name: string, routeName: string, toolPrefix: string): Manifest => ({
  apiVersion: "mcp.kagenti.com/v1alpha1",
  kind: "MCPServer",
  metadata: meta(name),
  spec: registrationSpec({ release: RELEASE_FACTS.kagenti, toolPrefix, routeName, routeNamespace: NAMESPACE }),
});

/** The broken registrations, for an MCP server at host:port, routed through the given Gateway. */
export function brokenRegistrations(a: {
  host: string;
  port: number;
  gatewayName: string;
  gatewayNamespace: string;
}): BrokenRegistration[] {
  const routeTo = (serviceName: string) =>
    httpRouteSpec({ ...a, path: "/mcp", serviceName, host: a.host, port: a.port });
  const { hostnames: _dropped, ...withoutHostname } = routeTo("no-hostname-svc");
  return [
    {
      title: "an MCPServer whose targetRef names no HTTPRoute",
      name: "broken-target",
      objects: [server("broken-target", "no-such-route", "broken_")],
      controller: { readyMessage: `HTTPRoute ${NAMESPACE}/no-such-route not found` },
    },
    {
      title: "an HTTPRoute without a hostname",
      name: "no-hostname",
      objects: [
        service("no-hostname-svc", externalServiceSpec(a)),
        route("no-hostname", withoutHostname),
        server("no-hostname", "no-hostname", "nohost_"),
      ],
      controller: {
        readyMessage: `HTTPRoute ${NAMESPACE}/no-hostname must have at least one hostname for MCP backend routing`,
      },
    },
    {
      title: "an HTTPRoute to a Service that is not ExternalName",
      name: "cluster-ip",
      objects: [
        service("cluster-ip-svc", { ports: [{ name: "http", port: a.port, protocol: "TCP" }] }),
        route("cluster-ip", routeTo("cluster-ip-svc")),
        server("cluster-ip", "cluster-ip", "clusterip_"),
      ],
      controller: { brokerUrl: `http://cluster-ip-svc.${NAMESPACE}.svc.cluster.local:${a.port}/mcp` },
    },
  ];
}

const TYPES: Record<string, string> = { Service: SERVICE_TYPE, HTTPRoute: HTTP_ROUTE_TYPE, MCPServer: MCP_SERVER_TYPE };

/** The manifests as the policy pack sees resources (type, name, inputs). */
export const asSeen = (objects: Manifest[]): SeenResource[] =>
  objects.map((o) => ({ type: TYPES[o.kind], name: o.metadata.name, props: o }));
