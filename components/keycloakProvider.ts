import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";

/** How the stack reaches Keycloak's admin API (the stack's `keycloak` config). */
export interface KeycloakAdmin {
  url: string;
  adminUser: string;
  adminPassword: pulumi.Input<string>;
  tlsInsecureSkipVerify: boolean;
  rootCaCertificate?: string;
}

/** The stack's one Keycloak provider: every realm object and lookup goes through it. */
export function keycloakProvider(admin: KeycloakAdmin, opts?: pulumi.CustomResourceOptions): keycloak.Provider {
  return new keycloak.Provider(
    "keycloak",
    {
      url: admin.url,
      clientId: "admin-cli",
      realm: "master",
      username: admin.adminUser,
      password: admin.adminPassword,
      tlsInsecureSkipVerify: admin.tlsInsecureSkipVerify,
      rootCaCertificate: admin.rootCaCertificate,
      // Log in on first use, not at configure time: a preview needs no reachable Keycloak.
      initialLogin: false,
      // A freshly started Keycloak (the patched in-cluster one) takes longer than the default 5 s
      // to create a realm on a small machine.
      clientTimeout: 60,
    },
    // Declared by use case 2's access component before the program made it once for every
    // cluster's server: the alias keeps its state.
    {
      ...opts,
      aliases: [{ parent: pulumi.createUrn("kubernetes-mcp-access", "mcp-gateway-stack:keycloak:ToolAccess") }],
    },
  );
}
