import { PolicyPack, type PolicyResource, type ReportViolation } from "@pulumi/policy";
import {
  authPolicyMatchesUseCase,
  clusterAdminAllowed,
  listenerPatchNeverForces,
  noPlaintextSecrets,
  registrationIsRoutable,
  type SeenResource,
} from "./rules";

// Constructing the pack starts its gRPC server: only the CLI loads this file; tests load rules.ts.
// No policy takes config: each judges what the stack declares in its resources.
const report = (problems: string[], reportViolation: ReportViolation) => problems.forEach((p) => reportViolation(p));
const seen = (r: {
  type: string;
  name: string;
  props: Record<string, any>;
  urn: string;
  opts: { additionalSecretOutputs?: string[] };
  parent?: PolicyResource;
}): SeenResource => ({
  type: r.type,
  name: r.name,
  props: r.props,
  urn: r.urn,
  parent: r.parent?.urn ?? "",
  secretOutputs: r.opts.additionalSecretOutputs ?? [],
});

new PolicyPack("mcp-gateway-stack", {
  enforcementLevel: "mandatory",
  policies: [
    {
      name: "auth-policy-matches-use-case",
      description:
        "With Keycloak tool access every HTTPRoute has an AuthPolicy aimed at it with an authentication rule; without, none.",
      validateStack: (args, reportViolation) =>
        report(authPolicyMatchesUseCase(args.resources.map(seen)), reportViolation),
    },
    {
      name: "cluster-admin-only-when-allowed",
      description:
        "No ClusterRoleBinding to cluster-admin unless its OidcClusterAccess declares allowClusterAdmin true.",
      validateStack: (args, reportViolation) => report(clusterAdminAllowed(args.resources.map(seen)), reportViolation),
    },
    {
      name: "listener-patch-never-forces",
      description: "The Gateway listener patch never forces ownership of fields and has its own field manager.",
      validateResource: (args, reportViolation) => report(listenerPatchNeverForces(seen(args)), reportViolation),
    },
    {
      name: "registration-is-routable",
      description:
        "Every MCPServer targets a declared HTTPRoute with a hostname whose backend is a declared ExternalName Service.",
      validateStack: (args, reportViolation) =>
        report(registrationIsRoutable(args.resources.map(seen)), reportViolation),
    },
    {
      name: "no-plaintext-secrets",
      description:
        "No credential in command lines or Kubernetes labels or annotations; a Secret's data only as outputs Pulumi keeps secret.",
      validateResource: (args, reportViolation) => report(noPlaintextSecrets(seen(args)), reportViolation),
    },
  ],
});
