/** Realms and users of the test bed's Keycloak, created over the admin REST API. */
import type { Api } from "../https";
import type { Keycloak } from "./keycloak";

/**
 * A user of the realm at `realmPath` (`/admin/realms/<name>`) with a password and, by path
 * (`/engineering`), groups: the test's own users beside the realm import's.
 */
export async function createUser(
  admin: Api,
  realmPath: string,
  user: { username: string; password: string; groups?: string[] },
): Promise<void> {
  const res = await admin.request("POST", `${realmPath}/users`, {
    username: user.username,
    enabled: true,
    email: `${user.username}@example.com`,
    emailVerified: true,
    firstName: user.username,
    lastName: "Test",
    groups: user.groups ?? [],
    credentials: [{ type: "password", value: user.password, temporary: false }],
  });
  if (res.status !== 201) throw new Error(`create user ${user.username}: HTTP ${res.status} ${res.text}`);
}

/** A realm of `keycloak` created over the admin REST API. */
export interface Realm {
  name: string;
  /** `<keycloak url>/realms/<name>`. */
  issuer: string;
  /** `/realms/<name>/protocol/openid-connect/token`, relative to `keycloak.api`. */
  tokenPath: string;
  /** `/admin/realms/<name>`, relative to the admin API. */
  adminPath: string;
}

/**
 * An empty, enabled realm named `name` (Keycloak's defaults: the client scopes basic, profile,
 * email, roles, web-origins, acr as defaults, no groups scope), created with the admin REST API:
 * the test's stand-in for "the cluster's domain exists" before the stack configures it.
 */
export async function createRealm(keycloak: Keycloak, name: string): Promise<Realm> {
  const admin = await keycloak.admin();
  const res = await admin.request("POST", "/admin/realms", { realm: name, enabled: true });
  if (res.status !== 201) throw new Error(`create realm ${name}: expected HTTP 201, got ${res.status} ${res.text}`);
  const issuer = `${keycloak.url}/realms/${name}`;
  const discovery = await keycloak.api.get(`/realms/${name}/.well-known/openid-configuration`);
  if (discovery.json.issuer !== issuer)
    throw new Error(`realm ${name}: discovery names issuer ${discovery.json.issuer}, expected ${issuer}`);
  return {
    name,
    issuer,
    tokenPath: `/realms/${name}/protocol/openid-connect/token`,
    adminPath: `/admin/realms/${encodeURIComponent(name)}`,
  };
}
