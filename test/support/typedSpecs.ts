/**
 * The stack's custom resource specs, as its builders make them, and one mistake per object that
 * the generated CRD types (components/crds/) must reject. Each `@ts-expect-error` is the proof:
 * when a type lets its mistake through, the directive is unused and `npm run check` (tsc) fails.
 * One mistake per object, since tsc reports one error per assignment. At run time the objects
 * are what test/crdTypes.test.ts and test/schemas/crdTypes.test.ts give the schema validator.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as crds from "../../components/crds";
import * as httpRoute from "../../components/crds/httpRoute.generated";
import { listenerSpec } from "../../components/gatewayListener";
import { RELEASE_FACTS, type ReleaseFacts } from "../../components/gatewayRelease";
import { httpRouteSpec, registrationSpec, serviceEntrySpec } from "../../components/mcpServerRoute";
import { authPolicyRules } from "../../components/toolAuthPolicy";

export const metadata = { name: "kubernetes-mcp", namespace: "mcp-test" };
/** A whole object of kind k around a spec. */
export const manifest = (k: { apiVersion: string; kind: string }, spec: unknown) => ({
  apiVersion: k.apiVersion,
  kind: k.kind,
  metadata,
  spec,
});

const registration = (release: ReleaseFacts) =>
  registrationSpec({ release, toolPrefix: "kube_", routeName: "kubernetes-mcp", routeNamespace: "mcp-test" });

/** What the builders make. */
export const built = {
  route: httpRouteSpec({
    gatewayName: "mcp-gateway",
    gatewayNamespace: "gateway-system",
    host: "kubernetes-mcp.127-0-0-1.sslip.io",
    path: "/mcp",
    serviceName: "kubernetes-mcp-external",
    port: 9999,
  }),
  serviceEntry: serviceEntrySpec({ host: "host.docker.internal", port: 9999 }),
  mcpServer: registration(RELEASE_FACTS.kagenti),
  registration: registration(RELEASE_FACTS["kuadrant-v0.9.0"]),
  rules: authPolicyRules({ issuerUrl: "https://kc/realms/mcp", tokenExchangeSecret: "s", resourceMetadataUrl: "u" }),
  listener: listenerSpec({
    gatewayName: "mcp-gateway",
    gatewayNamespace: "gateway-system",
    listenerName: "kubernetes-mcp",
    hostname: "kubernetes-mcp.127-0-0-1.sslip.io",
    port: 8080,
  }),
};

/** An AuthPolicy spec around its rules, on the route. */
export const policy = (rules: unknown) => ({
  targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "kubernetes-mcp" },
  rules,
});

export const mistakes = {
  httpRoute: {
    misspeltField: {
      ...built.route,
      // @ts-expect-error hostnames, not hostname
      hostname: ["kubernetes-mcp.127-0-0-1.sslip.io"],
    } satisfies crds.Inputs<crds.HTTPRouteSpec>,
    unknownPathMatch: {
      ...built.route,
      rules: [
        {
          backendRefs: [{ name: pulumi.output("kubernetes-mcp-external"), port: 9999 }],
          matches: [
            {
              path: {
                // @ts-expect-error PathPrefix, not Prefix (a deep field, beside an Output)
                type: "Prefix",
                value: "/mcp",
              },
            },
          ],
        },
      ],
    } satisfies crds.Inputs<crds.HTTPRouteSpec>,
    misspeltSpecOfTheArgs: {
      apiVersion: httpRoute.apiVersion,
      kind: httpRoute.kind,
      metadata,
      // @ts-expect-error spec, not sepc: the resource args are closed too
      sepc: built.route,
    } satisfies crds.HTTPRouteArgs,
  },
  serviceEntry: {
    misspeltField: {
      ...built.serviceEntry,
      // @ts-expect-error resolution, not resolutoin
      resolutoin: "DNS",
    } satisfies crds.Inputs<crds.ServiceEntrySpec>,
    unknownLocation: {
      ...built.serviceEntry,
      // @ts-expect-error MESH_EXTERNAL or MESH_INTERNAL
      location: "SOMEWHERE",
    } satisfies crds.Inputs<crds.ServiceEntrySpec>,
  },
  mcpServer: {
    misspeltField: {
      targetRef: { name: "kubernetes-mcp" },
      // @ts-expect-error toolPrefix, not toolprefix
      toolprefix: "kube_",
    } satisfies crds.Inputs<crds.MCPServerSpec>,
  },
  registration: {
    kagentiFieldName: {
      targetRef: { name: "kubernetes-mcp" },
      // @ts-expect-error Kuadrant's MCPServerRegistration calls it prefix
      toolPrefix: "kube_",
    } satisfies crds.Inputs<crds.MCPServerRegistrationSpec>,
    unservedVersion: {
      // @ts-expect-error the MCPServer CRD serves mcp.kagenti.com/v1alpha1 only
      apiVersion: "mcp.kagenti.com/v1",
      kind: "MCPServer",
      prefixField: "toolPrefix",
    } satisfies ReleaseFacts["registration"],
  },
  authPolicy: {
    misspeltField: {
      ...built.rules,
      authentication: {
        // @ts-expect-error issuerUrl, not issuerURL
        keycloak: { jwt: { issuerURL: "https://kc/realms/mcp" } },
      },
    } satisfies crds.Inputs<crds.AuthPolicyRules>,
    codeAsString: {
      ...built.rules,
      response: {
        // @ts-expect-error the code is an integer
        unauthenticated: { code: "401" },
      },
    } satisfies crds.Inputs<crds.AuthPolicyRules>,
  },
  listener: {
    misspeltField: {
      ...built.listener,
      // @ts-expect-error hostname, not hostName
      hostName: "kubernetes-mcp.127-0-0-1.sslip.io",
    } satisfies crds.GatewayListener,
    portAsString: {
      ...built.listener,
      // @ts-expect-error the port is an integer
      port: "8080",
    } satisfies crds.GatewayListener,
  },
};
