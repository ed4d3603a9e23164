import * as k8s from "@pulumi/kubernetes";
import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import { basicCredentials, CHAIN_SECRET_KEY } from "./domainChain";
import { GATEWAY_CLIENT_ID } from "./gatewayClientSecret";

export interface DomainTrustArgs {
  /** The gateway's realm: the user logs in there. */
  gatewayRealm: string;
  gatewayIssuerUrl: string;
  /** The gateway realm's group of users who may reach this domain (use case 2's group). */
  gatewayGroupId: pulumi.Input<string>;
  /** The realm the domain's cluster trusts. */
  domainRealm: string;
  domainIssuerUrl: string;
  /** The user, in both realms. */
  username: string;
  /** Where Authorino reads the grant client's credentials: `<namespace>/<name>`. */
  secretNamespace: string;
  secretName: string;
  /** The Keycloak provider (one Keycloak holds both realms). */
  keycloakProvider: keycloak.Provider;
}

/** The identity provider's alias in the domain's realm (the grant client allows only it). */
export const GATEWAY_IDP_ALIAS = "gateway";
/** The domain realm's client the gateway's AuthPolicy uses for the grant and the exchange. */
export const GRANT_CLIENT_ID = "mcp-gateway";
/** The role of the gateway realm's client that makes a user's token exchangeable for this domain. */
export const DOMAIN_ROLE = "chain";

export interface GatewaySubjectArgs {
  gatewayRealm: string;
  keycloakProvider: keycloak.Provider;
}

/**
 * Once per stack, in the gateway's realm: a `sub` claim in the tokens of its exchange client. The
 * guide's realm gives that client no `basic` client scope, so its tokens have no `sub`, and a
 * cluster's realm refuses the assertion (`Missing claim: sub`): it finds the linked user by it. A
 * mapper on the client adds it without taking over the client's scope lists.
 */
export class GatewaySubject extends pulumi.ComponentResource {
  constructor(name: string, args: GatewaySubjectArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:keycloak:GatewaySubject", name, {}, opts);
    const onKeycloak = childOptions(this, opts, { provider: args.keycloakProvider });
    const client = keycloak.openid.getClientOutput(
      { realmId: args.gatewayRealm, clientId: GATEWAY_CLIENT_ID },
      onKeycloak,
    );
    new keycloak.openid.SubProtocolMapper(
      `${name}-mapper`,
      { realmId: args.gatewayRealm, clientId: client.id, name: "sub (mcp-gateway-stack)", addToAccessToken: true },
      onKeycloak,
    );
    this.registerOutputs({});
  }
}

/**
 * How the domain's realm comes to trust the gateway's realm for one user (Keycloak identity chaining):
 *
 * - gateway realm: a client whose id is the domain realm's issuer (the only `aud` that realm accepts
 *   in an assertion) with one role, mapped to the gateway's group: only its members' tokens can be
 *   exchanged for that audience;
 * - domain realm: the gateway's realm as an OpenID Connect identity provider enabled for the JWT
 *   authorization grant, a confidential client allowed to use it with that provider, and the user
 *   linked to the gateway realm's user (Keycloak never creates a user from an assertion);
 * - the client's Basic credentials as a Secret for Authorino.
 */
export class DomainTrust extends pulumi.ComponentResource {
  public readonly grantClient: keycloak.openid.Client;
  public readonly user: keycloak.User;
  public readonly secret: k8s.core.v1.Secret;

  constructor(name: string, args: DomainTrustArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:keycloak:DomainTrust", name, {}, opts);
    const onKeycloak = childOptions(this, opts, { provider: args.keycloakProvider });
    const gateway = args.gatewayIssuerUrl;

    const audience = new keycloak.openid.Client(
      `${name}-audience`,
      {
        realmId: args.gatewayRealm,
        clientId: args.domainIssuerUrl,
        description: `The audience of tokens for the realm ${args.domainRealm}`,
        accessType: "PUBLIC",
        standardFlowEnabled: false,
        fullScopeAllowed: false,
      },
      onKeycloak,
    );
    const role = new keycloak.Role(
      `${name}-audience-role`,
      { realmId: args.gatewayRealm, clientId: audience.id, name: DOMAIN_ROLE },
      onKeycloak,
    );
    new keycloak.GroupRoles(
      `${name}-audience-group-role`,
      { realmId: args.gatewayRealm, groupId: args.gatewayGroupId, roleIds: [role.id], exhaustive: false },
      onKeycloak,
    );

    const idp = new keycloak.oidc.IdentityProvider(
      `${name}-idp`,
      {
        realm: args.domainRealm,
        alias: GATEWAY_IDP_ALIAS,
        displayName: `MCP Gateway realm ${args.gatewayRealm}`,
        issuer: gateway,
        jwksUrl: `${gateway}/protocol/openid-connect/certs`,
        validateSignature: true,
        // Never a login option: the provider exists for the grant, users are linked by the stack.
        linkOnly: true,
        hideOnLoginPage: true,
        // Required by the resource, unused by the grant (no browser login goes through it). The
        // audience client is public: there is no secret, so the placeholder is write-only, never
        // kept in state.
        authorizationUrl: `${gateway}/protocol/openid-connect/auth`,
        tokenUrl: `${gateway}/protocol/openid-connect/token`,
        clientId: args.domainIssuerUrl,
        clientSecretWo: "unused-by-the-jwt-authorization-grant",
        clientSecretWoVersion: "1",
        extraConfig: { jwtAuthorizationGrantEnabled: "true" },
      },
      onKeycloak,
    );

    this.grantClient = new keycloak.openid.Client(
      `${name}-grant-client`,
      {
        realmId: args.domainRealm,
        clientId: GRANT_CLIENT_ID,
        description: "The MCP Gateway's AuthPolicy: JWT authorization grant, then exchange to the server",
        accessType: "CONFIDENTIAL",
        standardFlowEnabled: false,
        oauth2JwtAuthorizationGrantEnabled: true,
        oauth2JwtAuthorizationGrantIdp: idp.alias,
        standardTokenExchangeEnabled: true,
      },
      onKeycloak,
    );

    const gatewayUser = keycloak.getUserOutput({ realmId: args.gatewayRealm, username: args.username }, onKeycloak);
    this.user = new keycloak.User(
      `${name}-user`,
      {
        realmId: args.domainRealm,
        username: args.username,
        federatedIdentities: [{ identityProvider: idp.alias, userId: gatewayUser.id, userName: args.username }],
      },
      onKeycloak,
    );

    this.secret = new k8s.core.v1.Secret(
      `${name}-grant-secret`,
      {
        metadata: { name: args.secretName, namespace: args.secretNamespace },
        stringData: {
          [CHAIN_SECRET_KEY]: pulumi
            .all([this.grantClient.clientId, this.grantClient.clientSecret])
            .apply(([id, secret]) => basicCredentials(id, secret)),
        },
      },
      // The client's secret output is a secret, so is the value built from it; and k8s.core.v1.Secret
      // marks its data and stringData outputs secret itself.
      childOptions(this, opts),
    );
    this.registerOutputs({});
  }
}
