import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";

export interface OidcClusterAccessArgs {
  /** The API server's --oidc-issuer-url; it has no username prefix, so users are `<issuer>#<name>`. */
  issuerUrl: string;
  username: string;
  clusterRole: string;
  /** The stack's oidc.allowClusterAdmin: the policy pack refuses a cluster-admin binding without it. */
  allowClusterAdmin: boolean;
}

/** The Kubernetes user name the API server gives an OIDC token's `preferred_username`. */
function oidcUserName(issuerUrl: string, username: string): string {
  return `${issuerUrl}#${username}`;
}

export function clusterRoleBindingName(username: string, clusterRole: string): string {
  return `oidc-${username}-${clusterRole}`;
}

/** Lets the Keycloak user call the API server with the token the MCP server passes through. */
export class OidcClusterAccess extends pulumi.ComponentResource {
  public readonly binding: k8s.rbac.v1.ClusterRoleBinding;

  constructor(name: string, args: OidcClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    // The intent as the component's inputs and outputs: the policy pack judges the binding by what
    // the stack declares here (a stack policy sees a component's registered outputs).
    const intent = { clusterRole: args.clusterRole, allowClusterAdmin: args.allowClusterAdmin };
    super("mcp-gateway-stack:auth:OidcClusterAccess", name, intent, opts);
    this.binding = new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-binding`,
      {
        metadata: { name: clusterRoleBindingName(args.username, args.clusterRole) },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: args.clusterRole },
        subjects: [
          { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: oidcUserName(args.issuerUrl, args.username) },
        ],
      },
      childOptions(this, opts),
    );
    this.registerOutputs(intent);
  }
}
