import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";

export interface KeycloakToolAccessArgs {
  realm: string;
  /** OAuth2 resource-server client id: the route's `<namespace>/<name>`. */
  clientId: pulumi.Input<string>;
  /** One client role per tool. */
  tools: string[];
  /** Prefix of the role names (`tool:` in Kuadrant's realm; none in kagenti's). */
  rolePrefix: string;
  group: string;
  /** Existing realm user put into the group. */
  username: string;
  /**
   * `create`: the stack creates the client, its roles and the group.
   * `reference`: a realm import already has them, mapped and with the user in the group (gateway
   * commits from e0d3f99 on): look them up and change nothing, instead of a 409 Conflict.
   */
  existingObjects: "create" | "reference";
  /** The stack's Keycloak provider (admin API of the Keycloak that holds the realm). */
  provider: keycloak.Provider;
}

/**
 * Written into the description of the client the stack creates, so the preflight of the next `up`
 * tells the stack's own client from one a realm import brought (`create` would then end in 409).
 */
export function ownerMark(project: string, stack: string): string {
  return `Managed by Pulumi stack ${project}/${stack}`;
}

/** The client the guide creates: public, no browser flow, only the scopes it is given. */
function resourceServerClientSpec(realm: string, clientId: pulumi.Input<string>, description: string) {
  return {
    realmId: realm,
    clientId,
    description,
    accessType: "PUBLIC",
    standardFlowEnabled: false,
    fullScopeAllowed: false,
  };
}

/**
 * Keycloak access to the MCP server's tools: an OAuth2 resource-server client, one client role
 * per tool, a group holding all the roles, and the user in that group.
 */
export class KeycloakToolAccess extends pulumi.ComponentResource {
  /** Keycloak's id (UUID) of the client. */
  public readonly clientUuid: pulumi.Output<string>;
  public readonly clientId: pulumi.Output<string>;
  public readonly roleIds: pulumi.Output<string>[];
  public readonly groupId: pulumi.Output<string>;

  constructor(name: string, args: KeycloakToolAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:keycloak:ToolAccess", name, {}, opts);
    // Lookups too wait for the component's dependsOn: Keycloak lives in the cluster.
    const child = childOptions(this, opts, { provider: args.provider });
    const realmId = args.realm;

    if (args.existingObjects === "create") {
      const client = new keycloak.openid.Client(
        `${name}-client`,
        resourceServerClientSpec(realmId, args.clientId, ownerMark(pulumi.getProject(), pulumi.getStack())),
        child,
      );
      this.clientUuid = client.id;
      this.clientId = client.clientId;
      this.roleIds = args.tools.map(
        (tool) =>
          new keycloak.Role(
            `${name}-role-${tool}`,
            { realmId, clientId: client.id, name: args.rolePrefix + tool },
            child,
          ).id,
      );
      const group = new keycloak.Group(`${name}-group`, { realmId, name: args.group }, child);
      this.groupId = group.id;
      // The stack owns this group, so it owns its member list too.
      new keycloak.GroupMemberships(`${name}-members`, { realmId, groupId: group.id, members: [args.username] }, child);
      new keycloak.GroupRoles(
        `${name}-group-roles`,
        { realmId, groupId: group.id, roleIds: this.roleIds, exhaustive: false },
        child,
      );
    } else {
      // The realm import owns all of it (client, roles, group, mappings, membership): look them up,
      // failing on any that is missing, and write nothing, so destroy leaves the realm as it was.
      const client = keycloak.openid.getClientOutput({ realmId, clientId: args.clientId }, child);
      this.clientUuid = client.id;
      this.clientId = client.clientId;
      this.roleIds = args.tools.map(
        (tool) => keycloak.getRoleOutput({ realmId, clientId: client.id, name: args.rolePrefix + tool }, child).id,
      );
      this.groupId = keycloak.getGroupOutput({ realmId, name: args.group }, child).id;
    }
    this.registerOutputs({ clientId: this.clientId });
  }
}
