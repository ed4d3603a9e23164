/**
 * Keycloak from Maven Central (testbed/keycloak) on loopback, HTTPS, with the realm of a pinned
 * gateway tag; its admin API, and password logins at the gateway's client.
 */
import * as fs from "node:fs";
import { gatewayFile, type GatewayTag } from "../gateway/checkout";
import { Api, dropIdleSockets } from "../https";
import { claimsOf } from "../jwt";
import { exportsOf, runScript } from "../processes";

export interface Keycloak {
  dir: string;
  url: string;
  ca: string;
  issuer: string;
  adminUser: string;
  adminPassword: string;
  /** Keycloak without a token (OAuth endpoints). */
  api: Api;
  /** The admin REST API, logged in as the bootstrap admin. */
  admin(): Promise<Api>;
  /**
   * Stops Keycloak and starts it again in place (testbed/keycloak/restart.sh): same URL, TLS, admin
   * and database, so realms and what the admin API created since survive; returns when it answers.
   */
  restart(): void;
  stop(): void;
}

/**
 * Keycloak (testbed/keycloak) on loopback, HTTPS, with the realm import of the gateway at `tag`.
 * `version`: MCP_KEYCLOAK_VERSION for fetch.sh and start.sh (default: theirs, 26.5.6); a version
 * not in the cache yet is downloaded and built on its first use (~1 min). `more`: start.sh's other
 * settings (MCP_KEYCLOAK_REUSE_DIR, _TRUSTSTORE, _FEATURES: see its header).
 */
export async function startKeycloak(
  tag: GatewayTag,
  version?: string,
  more: Record<string, string> = {},
): Promise<Keycloak> {
  const env: Record<string, string> = { ...(version ? { MCP_KEYCLOAK_VERSION: version } : {}), ...more };
  runScript("testbed/keycloak/fetch.sh", [], env);
  const realm = gatewayFile(tag, "config/keycloak/realm-import.yaml");
  const v = exportsOf(runScript("testbed/keycloak/start.sh", [realm], env));
  const api = new Api(v.KEYCLOAK_URL, fs.readFileSync(v.KEYCLOAK_CA));
  return {
    dir: v.KEYCLOAK_DIR,
    url: v.KEYCLOAK_URL,
    ca: v.KEYCLOAK_CA,
    issuer: v.KEYCLOAK_ISSUER,
    adminUser: v.KEYCLOAK_ADMIN_USER,
    adminPassword: v.KEYCLOAK_ADMIN_PASSWORD,
    api,
    async admin() {
      const res = await api.form("/realms/master/protocol/openid-connect/token", {
        grant_type: "password",
        client_id: "admin-cli",
        username: v.KEYCLOAK_ADMIN_USER,
        password: v.KEYCLOAK_ADMIN_PASSWORD,
      });
      if (res.status !== 200) throw new Error(`Keycloak admin login: ${res.status} ${res.text}`);
      return api.withToken(res.json.access_token);
    },
    restart: () => {
      runScript("testbed/keycloak/restart.sh", [v.KEYCLOAK_DIR]);
      dropIdleSockets(v.KEYCLOAK_URL);
    },
    stop: () => void runScript("testbed/keycloak/stop.sh", [v.KEYCLOAK_DIR]),
  };
}

/**
 * Test bed only: direct access grants on for the realm's gateway client (off in the realm, whose
 * users log in through a browser), and a password login at that client with its own secret: the
 * user's token as the browser login would give it.
 */
export async function passwordLogin(
  keycloak: Keycloak,
  realm = "mcp",
  clientId = "mcp-gateway",
): Promise<(username: string, password: string) => Promise<string>> {
  const admin = await keycloak.admin();
  const realmPath = `/admin/realms/${realm}`;
  const [client] = (await admin.get(`${realmPath}/clients?clientId=${encodeURIComponent(clientId)}`)).json;
  const put = await admin.request("PUT", `${realmPath}/clients/${client.id}`, {
    ...client,
    directAccessGrantsEnabled: true,
  });
  if (put.status !== 204) throw new Error(`direct access grants for ${clientId}: HTTP ${put.status} ${put.text}`);
  const secret = (await admin.get(`${realmPath}/clients/${client.id}/client-secret`)).json.value as string;
  return async (username, password) => {
    const res = await keycloak.api.form(`/realms/${realm}/protocol/openid-connect/token`, {
      grant_type: "password",
      client_id: clientId,
      client_secret: secret,
      username,
      password,
      scope: "openid profile groups",
    });
    if (res.status !== 200) throw new Error(`password grant for ${username}: HTTP ${res.status} ${res.text}`);
    return res.json.access_token;
  };
}

/** Prints the claims of a token a closing note shows (`<prefix>: <label>: {...}`); its claims. */
export function printClaims(prefix: string, label: string, token: string): Record<string, any> {
  const c = claimsOf(token) as Record<string, any>;
  const brief = {
    iss: c.iss,
    aud: c.aud,
    azp: c.azp,
    sub: c.sub,
    preferred_username: c.preferred_username,
    groups: c.groups,
    scope: c.scope,
    "exp-iat": c.exp - c.iat,
    resource_access: Object.fromEntries(
      Object.entries(c.resource_access ?? {}).map(([k, v]: [string, any]) => [k, `${v.roles.length} roles`]),
    ),
  };
  console.log(`${prefix}: ${label}: ${JSON.stringify(brief)}`);
  return c;
}
