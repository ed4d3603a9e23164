/**
 * Before `pulumi up` touches anything: are the services and tools the config points at there?
 * Skipped on preview, which must work with nothing reachable. Each problem names the config key,
 * its value and what is needed, like a config error.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { RELEASE_FACTS, serverIdOf } from "../components/gatewayRelease";
import { kubeconfigContents } from "../components/gatewayCluster";
import { foreignObjectProblem, getClusterObject, stackObjects, type ObjectFound } from "./clusterObjects";
import { ownerMark } from "../components/keycloakToolAccess";
import {
  PROJECT,
  isKubeconfigPath,
  issuerUrl,
  problemList,
  setKubeconfigCommand,
  type DomainConfig,
  type KeycloakConfig,
  type StackConfig,
} from "./config";

/** What the preflight needs to ask Keycloak's admin API (the password already unwrapped). */
export interface KeycloakAdminLogin {
  url: string;
  realm: string;
  adminUser: string;
  adminPassword: string;
  rootCaCertificate?: string;
  tlsInsecureSkipVerify: boolean;
}

/** The descriptions of the realm's clients with a client id, or why Keycloak could not be asked. */
export type ClientsFound = { descriptions: string[] } | { error: string };

/** The realm's OpenID discovery: the issuer Keycloak names and the grants it offers, or why it could not be read. */
export type IssuerFound = { issuer: string; grantTypes: string[] } | { error: string; tls?: boolean };

export interface Probes {
  /** Resolves true when a TCP connection to host:port opens within the timeout. */
  reachable(host: string, port: number): Promise<boolean>;
  /** Whether a command is on PATH. */
  hasCommand(name: string): boolean;
  readFile(path: string): string | undefined;
  /** Logs in to Keycloak's admin API (realm master, admin-cli) and finds the clients named `clientId`. */
  keycloakClients(login: KeycloakAdminLogin, clientId: string): Promise<ClientsFound>;
  /** Reads `<url>/realms/<realm>/.well-known/openid-configuration` (no login needed). */
  keycloakIssuer(login: Omit<KeycloakAdminLogin, "adminPassword">): Promise<IssuerFound>;
  /** GETs an object from the API server with the kubeconfig's credentials. */
  clusterObject(kubeconfig: string, context: string | undefined, path: string): Promise<ObjectFound>;
}

/** Node's codes for a server certificate that does not verify against the trusted CAs. */
const TLS_VERIFY_ERRORS = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

async function findKeycloakIssuer(login: Omit<KeycloakAdminLogin, "adminPassword">): Promise<IssuerFound> {
  try {
    const res = await keycloakRequest(login, `/realms/${login.realm}/.well-known/openid-configuration`, {});
    if (res.status === 404) return { error: `it has no realm '${login.realm}' (discovery answered HTTP 404)` };
    if (res.status !== 200) return { error: `its OpenID discovery answered HTTP ${res.status}` };
    const discovery = JSON.parse(res.body) as { issuer: string; grant_types_supported?: string[] };
    return { issuer: discovery.issuer, grantTypes: discovery.grant_types_supported ?? [] };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    return { error: `${(err as Error).message}${code ? ` (${code})` : ""}`, tls: TLS_VERIFY_ERRORS.has(code) };
  }
}

/** One HTTPS request to Keycloak, verified with its CA (or not, when the config says so). */
function keycloakRequest(
  login: Omit<KeycloakAdminLogin, "adminPassword">,
  path: string,
  init: { method?: string; body?: string; token?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, login.url),
      {
        method: init.method ?? "GET",
        ca: login.rootCaCertificate,
        rejectUnauthorized: !login.tlsInsecureSkipVerify,
        timeout: 10_000,
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
      },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end(init.body);
  });
}

async function findKeycloakClients(login: KeycloakAdminLogin, clientId: string): Promise<ClientsFound> {
  try {
    const form = new URLSearchParams({
      grant_type: "password",
      client_id: "admin-cli",
      username: login.adminUser,
      password: login.adminPassword,
    });
    const auth = await keycloakRequest(login, "/realms/master/protocol/openid-connect/token", {
      method: "POST",
      body: form.toString(),
    });
    if (auth.status !== 200)
      return { error: `the admin login of '${login.adminUser}' was refused (HTTP ${auth.status})` };
    const token = (JSON.parse(auth.body) as { access_token: string }).access_token;
    const q = encodeURIComponent(clientId);
    const res = await keycloakRequest(login, `/admin/realms/${login.realm}/clients?clientId=${q}`, { token });
    if (res.status === 404) return { error: `it has no realm '${login.realm}'` };
    if (res.status !== 200)
      return { error: `listing the clients of realm '${login.realm}' answered HTTP ${res.status}` };
    const clients = JSON.parse(res.body) as Array<{ description?: string }>;
    return { descriptions: clients.map((c) => c.description ?? "") };
  } catch (err) {
    return { error: `the HTTPS request failed: ${(err as Error).message}` };
  }
}

export const realProbes: Probes = {
  reachable: (host, port) =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port, timeout: 5000 });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once("connect", () => done(true));
      socket.once("timeout", () => done(false));
      socket.once("error", () => done(false));
    }),
  hasCommand: (name) => {
    try {
      execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  },
  readFile: (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined),
  keycloakClients: findKeycloakClients,
  keycloakIssuer: findKeycloakIssuer,
  clusterObject: getClusterObject,
};

/** host and port of a URL, with the scheme's default port. */
export function endpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) || (u.protocol === "https:" ? 443 : 80) };
}

/** The API server a kubeconfig (contents) points at, in its current or the given context. */
export function apiServerOf(kubeconfig: string, context?: string): string | undefined {
  const doc = parse(kubeconfig) as {
    "current-context"?: string;
    contexts?: Array<{ name: string; context: { cluster: string } }>;
    clusters?: Array<{ name: string; cluster: { server: string } }>;
  } | null;
  const ctx = doc?.contexts?.find((c) => c.name === (context ?? doc["current-context"]));
  return doc?.clusters?.find((c) => c.name === ctx?.context.cluster)?.cluster.server;
}

export async function preflight(
  cfg: StackConfig,
  kubeconfig: string | undefined,
  probes: Probes = realProbes,
  adminPassword?: string,
  stack: string = pulumi.getStack(),
  /** Use case 3: each further cluster's kubeconfig, unwrapped, in the order of `domains`. */
  domainKubeconfigs: (string | undefined)[] = [],
): Promise<string[]> {
  const problems: string[] = [];
  const domains = cfg.useCase === "cross-domain" ? cfg.domains : [];
  const key = (k: string) => `${PROJECT}:${k}`;
  for (const [i, d] of domains.entries()) {
    if (d.cluster.mode === "kind") {
      // The stack runs `kind create cluster` itself, and Kind runs the node on a container runtime.
      const at = `${key(`domains[${i}].cluster.mode`)} = 'kind'`;
      if (!probes.hasCommand("kind"))
        problems.push(`${at}: needs 'kind' on PATH (the stack creates that Kind cluster)`);
      if (!probes.hasCommand("docker") && !probes.hasCommand("podman"))
        problems.push(`${at}: needs 'docker' or 'podman' on PATH to run the Kind cluster`);
      continue;
    }
    problems.push(...(await apiServerProblems(`domains[${i}].kubeconfig`, domainKubeconfigs[i], d.context, probes)));
  }

  if (cfg.cluster.mode === "kind") {
    for (const tool of ["git", "make"]) {
      if (!probes.hasCommand(tool))
        problems.push(`${key("cluster.mode")} = 'kind': needs '${tool}' on PATH (the gateway's make targets run it)`);
    }
    if (!probes.hasCommand("docker") && !probes.hasCommand("podman")) {
      problems.push(`${key("cluster.mode")} = 'kind': needs 'docker' or 'podman' on PATH to run the Kind cluster`);
    }
  } else if (kubeconfig !== undefined) {
    const apiProblems = await apiServerProblems("cluster.kubeconfig", kubeconfig, cfg.cluster.context, probes);
    problems.push(...apiProblems);
    if (apiProblems.length === 0) {
      const contents = kubeconfigContents(kubeconfig, probes.readFile);
      for (const object of stackObjects(cfg)) {
        const found = await probes.clusterObject(contents, cfg.cluster.context, object.path);
        if ("error" in found) {
          pulumi.log.warn(`could not check which objects of the stack's names exist (${found.error}): not checked`);
          break;
        }
        const problem = foreignObjectProblem(object, found);
        if (problem) problems.push(problem);
      }
    }
    // In kind mode Keycloak is created by the stack itself; on an existing cluster it must be up.
    if (cfg.keycloak && !(await probes.reachable(endpoint(cfg.keycloak.url).host, endpoint(cfg.keycloak.url).port))) {
      problems.push(
        `${key("keycloak.url")} = '${cfg.keycloak.url}': Keycloak is not reachable there; start it or fix the URL`,
      );
    } else if (cfg.keycloak) {
      const issuerProblems = await keycloakIssuerProblems(cfg.keycloak, probes);
      problems.push(...issuerProblems);
      // A Keycloak the stack patches gets the grant, and its realms from the stack, during the run.
      const patched = cfg.useCase === "cross-domain" && cfg.inClusterKeycloak.patch;
      for (const [i, d] of domains.entries()) {
        if (issuerProblems.length === 0 && !patched)
          problems.push(...(await domainRealmProblems(cfg.keycloak, d, i, probes)));
      }
      if (issuerProblems.length === 0 && adminPassword !== undefined)
        problems.push(...(await keycloakObjectProblems(cfg, cfg.keycloak, adminPassword, probes, stack)));
    }
  }
  return problems;
}

/** The kubeconfig names an API server in its context, and the server answers on its port. */
async function apiServerProblems(
  field: string,
  kubeconfig: string | undefined,
  context: string | undefined,
  probes: Probes,
): Promise<string[]> {
  const key = `${PROJECT}:${field}`;
  // A path is not sensitive: the message shows it (and where a relative one was looked for).
  if (kubeconfig !== undefined && isKubeconfigPath(kubeconfig) && probes.readFile(kubeconfig) === undefined) {
    const where = path.isAbsolute(kubeconfig) ? "" : ` (relative to ${process.cwd()})`;
    return [
      `${key} = '${kubeconfig}': expected a kubeconfig file, but the file does not exist${where}; fix the path, or set the kubeconfig's contents: ${setKubeconfigCommand(field)}`,
    ];
  }
  const server =
    kubeconfig === undefined ? undefined : apiServerOf(kubeconfigContents(kubeconfig, probes.readFile), context);
  if (!server) {
    return [
      `${key} = (secret): expected a kubeconfig whose context '${context ?? "current-context"}' names a cluster with a server`,
    ];
  }
  if (!(await probes.reachable(endpoint(server).host, endpoint(server).port))) {
    return [`${key} = (secret): its API server ${server} is not reachable; start the cluster or fix the kubeconfig`];
  }
  return [];
}

/** JWT bearer grant (RFC 7523): what the cluster's realm must offer for the chain's second step. */
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/**
 * Use case 3: the cluster's realm exists on the gateway's Keycloak, names the issuer its API server
 * is given, and offers the JWT authorization grant (Keycloak 26.5+, preview feature).
 */
async function domainRealmProblems(
  kc: KeycloakConfig,
  d: DomainConfig,
  index: number,
  probes: Probes,
): Promise<string[]> {
  const key = `${PROJECT}:domains[${index}].realm`;
  const expected = issuerUrl({ url: kc.url, realm: d.realm });
  const found = await probes.keycloakIssuer({ ...kc, realm: d.realm });
  if ("error" in found) {
    return [`${key} = '${d.realm}': expected a realm of Keycloak at ${kc.url}; ${found.error}`];
  }
  if (found.issuer !== expected) {
    return [
      `${key} = '${d.realm}': the stack expects tokens issued by '${expected}', but the realm names its issuer '${found.issuer}'`,
    ];
  }
  if (!found.grantTypes.includes(JWT_BEARER)) {
    return [
      `${key} = '${d.realm}': Keycloak at ${kc.url} does not offer the JWT authorization grant (${JWT_BEARER}); use Keycloak 26.7 or newer, or 26.5/26.6 built and started with --features=jwt-authorization-grant (README, use case 3)`,
    ];
  }
  return [];
}

/**
 * Keycloak's certificate verifies, and the realm's discovery names the issuer the stack derives
 * from keycloak.url: the AuthPolicy's jwt.issuerUrl and the binding's `<issuer>#<user>` must be the
 * `iss` of the tokens, or every call is refused later with no hint why.
 */
async function keycloakIssuerProblems(kc: KeycloakConfig, probes: Probes): Promise<string[]> {
  const key = (k: string) => `${PROJECT}:${k}`;
  const expected = issuerUrl(kc);
  const found = await probes.keycloakIssuer(kc);
  if ("error" in found && found.tls) {
    return [
      `${key("keycloak.rootCaCertificate")} = ${kc.rootCaCertificate ? "(a PEM certificate)" : "(not set: the system CAs)"}: Keycloak's certificate at ${kc.url} does not verify against it: ${found.error}; set keycloak.rootCaCertificate to the CA that signed it`,
    ];
  }
  if ("error" in found) {
    return [
      `${key("keycloak.url")} = '${kc.url}': expected the OpenID discovery of realm '${kc.realm}' at ${expected}/.well-known/openid-configuration; ${found.error}; check keycloak.url and keycloak.realm`,
    ];
  }
  if (found.issuer !== expected) {
    return [
      `${key("keycloak.url")} = '${kc.url}': the stack expects tokens issued by '${expected}', but realm '${kc.realm}' names its issuer '${found.issuer}'; set keycloak.url to the URL Keycloak calls itself (its hostname setting)`,
    ];
  }
  return [];
}

/**
 * The admin login works, and the realm matches keycloak.existingObjects: `create` on a realm that
 * already has the client would end in 409 Conflict half way through the run, `reference` on one
 * without it in a failed lookup.
 */
async function keycloakObjectProblems(
  cfg: StackConfig,
  kc: KeycloakConfig,
  adminPassword: string,
  probes: Probes,
  stack: string,
): Promise<string[]> {
  const clientId = serverIdOf(RELEASE_FACTS[cfg.gateway.release], cfg.mcpServer);
  const found = await probes.keycloakClients({ ...kc, adminPassword }, clientId);
  const key = (k: string) => `${PROJECT}:${k}`;
  if ("error" in found) {
    return [
      `${key("keycloak.adminPassword")} = (secret): Keycloak at ${kc.url} could not be asked for client '${clientId}': ${found.error}; check keycloak.adminUser, keycloak.adminPassword, keycloak.realm and keycloak.rootCaCertificate`,
    ];
  }
  // This stack's own client (from an earlier `up`) is no conflict; one a realm import brought is.
  const mine = ownerMark(PROJECT, stack);
  if (kc.existingObjects === "create" && found.descriptions.some((d) => d !== mine)) {
    return [
      `${key("keycloak.existingObjects")} = 'create': realm '${kc.realm}' already has client '${clientId}' (gateway commits from e0d3f99 on import it with its roles and group); set keycloak.existingObjects to 'reference' to adopt them`,
    ];
  }
  if (kc.existingObjects === "reference" && found.descriptions.length === 0) {
    return [
      `${key("keycloak.existingObjects")} = 'reference': realm '${kc.realm}' has no client '${clientId}' to adopt; set keycloak.existingObjects to 'create'`,
    ];
  }
  return [];
}

/** Runs the preflight unless this is a preview, and stops with one RunError listing every problem. */
export async function assertPreflight(cfg: StackConfig, probes: Probes = realProbes): Promise<void> {
  if (pulumi.runtime.isDryRun()) return;
  // The secrets' values, for the checks only (never printed).
  const plain = (secret: pulumi.Output<string>) => new Promise<string>((resolve) => secret.apply(resolve));
  const kubeconfig = cfg.cluster.kubeconfig ? await plain(cfg.cluster.kubeconfig) : undefined;
  const adminPassword = cfg.keycloak ? await plain(cfg.keycloak.adminPassword) : undefined;
  // Kind mode's further clusters have none yet (undefined in their place).
  const domainKubeconfigs =
    cfg.useCase === "cross-domain"
      ? await Promise.all(cfg.domains.map((d) => (d.kubeconfig ? plain(d.kubeconfig) : undefined)))
      : [];
  const problems = await preflight(cfg, kubeconfig, probes, adminPassword, pulumi.getStack(), domainKubeconfigs);
  if (problems.length > 0) {
    throw new pulumi.RunError(problemList("Preflight failed, nothing was changed", problems));
  }
}
