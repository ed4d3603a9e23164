import { PolicyPack, type ReportViolation } from "@pulumi/policy";
import {
  authPolicyMatchesUseCase,
  clusterAdminAllowed,
  listenerPatchNeverForces,
  noPlaintextSecrets,
  registrationIsRoutable,
  type PolicyConfig,
  type SeenResource,
} from "./rules";

// Constructing the pack starts its gRPC server: only the CLI loads this file; tests load rules.ts.
const report = (problems: string[], reportViolation: ReportViolation) => problems.forEach((p) => reportViolation(p));
const seen = (args: { type: string; name: string; props: Record<string, any> }): SeenResource => ({
  type: args.type,
  name: args.name,
  props: args.props,
});

new PolicyPack("mcp-gateway-stack", {
  enforcementLevel: "mandatory",
  policies: [
    {
      name: "auth-policy-matches-use-case",
      description: "An AuthPolicy exists exactly when the use case is oidc.",
      configSchema: {
        properties: { useCase: { type: "string", enum: ["no-auth", "oidc", "cross-domain"] } },
        required: ["useCase"],
      },
      validateStack: (args, reportViolation) =>
        report(authPolicyMatchesUseCase(args.resources.map(seen), args.getConfig<PolicyConfig>()), reportViolation),
    },
    {
      name: "cluster-admin-only-when-allowed",
      description: "No ClusterRoleBinding to cluster-admin unless the stack's oidc.allowClusterAdmin is true.",
      configSchema: { properties: { allowClusterAdmin: { type: "boolean", default: false } } },
      validateResource: (args, reportViolation) =>
        report(clusterAdminAllowed(seen(args), args.getConfig<PolicyConfig>()), reportViolation),
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
      description: "No credential in command lines, Kubernetes labels or annotations, or Secret stringData.",
      validateResource: (args, reportViolation) => report(noPlaintextSecrets(seen(args)), reportViolation),
    },
  ],
});
