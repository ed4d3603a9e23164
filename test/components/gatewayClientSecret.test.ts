import { spawn } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GATEWAY_CLIENT_ID,
  REGENERATE_COMMAND,
  regenerateSecretScript,
  tokenExchangeSecretData,
} from "../../components/gatewayClientSecret";

// The regeneration step's script run for real, as the Command runs it (`node` reading it from
// stdin), against a fake of the three Keycloak admin endpoints it calls, which records what it got.
const ADMIN_PASSWORD = "admin-pw-7c1f";
const GENERATED = "kc-generated-3b9e0d";
const ADMIN_TOKEN = "admin-token-51aa";

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  body: string;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];
/** What the fake answers, per test. */
let behaviour: { login: number; clients: unknown[]; generate: number } = { login: 200, clients: [], generate: 200 };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (req.url === "/realms/master/protocol/openid-connect/token")
        return behaviour.login === 200
          ? reply(200, { access_token: ADMIN_TOKEN })
          : reply(behaviour.login, { error: "invalid_grant", error_description: `bad ${ADMIN_PASSWORD}` });
      if (req.url === `/admin/realms/mcp/clients?clientId=${GATEWAY_CLIENT_ID}`) return reply(200, behaviour.clients);
      if (req.url === "/admin/realms/mcp/clients/uuid-1/client-secret" && req.method === "POST")
        return behaviour.generate === 200
          ? reply(200, { type: "secret", value: GENERATED })
          : reply(behaviour.generate, { error: `half-written ${GENERATED}` });
      reply(404, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

/** The script as the Command runs it; resolves with its exit code and output. */
function regenerate(env: Record<string, string> = {}) {
  seen.length = 0;
  const [cmd, ...args] = REGENERATE_COMMAND.split(" ");
  const child = spawn(cmd, args, {
    env: {
      PATH: process.env.PATH,
      KEYCLOAK_URL: base,
      KEYCLOAK_REALM: "mcp",
      KEYCLOAK_CLIENT_ID: GATEWAY_CLIENT_ID,
      KEYCLOAK_ADMIN_USER: "admin",
      KEYCLOAK_ADMIN_PASSWORD: ADMIN_PASSWORD,
      KEYCLOAK_TLS_INSECURE: "false",
      ...env,
    },
  });
  child.stdin.end(regenerateSecretScript);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
}

describe("the gateway client's secret regeneration", () => {
  it("logs in as the admin, finds the realm's client by its id and prints only the secret Keycloak generated", async () => {
    behaviour = { login: 200, clients: [{ id: "uuid-1", clientId: GATEWAY_CLIENT_ID }], generate: 200 };
    const run = await regenerate();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(GENERATED);
    expect(run.stderr).toBe("");
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "POST /realms/master/protocol/openid-connect/token",
      `GET /admin/realms/mcp/clients?clientId=${GATEWAY_CLIENT_ID}`,
      "POST /admin/realms/mcp/clients/uuid-1/client-secret",
    ]);
    expect(Object.fromEntries(new URLSearchParams(seen[0].body))).toEqual({
      grant_type: "password",
      client_id: "admin-cli",
      username: "admin",
      password: ADMIN_PASSWORD,
    });
    expect(seen.slice(1).map((s) => s.authorization)).toEqual([`Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}`]);
  });

  it("stops on a refused admin login, saying so without the password or Keycloak's answer", async () => {
    behaviour = { login: 401, clients: [], generate: 200 };
    const run = await regenerate();
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("the admin login of 'admin' was refused (HTTP 401)");
    expect(run.stderr).not.toContain(ADMIN_PASSWORD);
    expect(seen).toHaveLength(1);
  });

  it("stops when the realm has no such client, naming it and the realm", async () => {
    behaviour = { login: 200, clients: [], generate: 200 };
    const run = await regenerate();
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`realm 'mcp' has no client '${GATEWAY_CLIENT_ID}'`);
  });

  it("stops when Keycloak does not generate the secret, printing neither the answer nor the admin token", async () => {
    behaviour = { login: 200, clients: [{ id: "uuid-1", clientId: GATEWAY_CLIENT_ID }], generate: 500 };
    const run = await regenerate();
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`generating a secret for client '${GATEWAY_CLIENT_ID}' answered HTTP 500`);
    expect(run.stderr).not.toContain(GENERATED);
    expect(run.stderr).not.toContain(ADMIN_TOKEN);
  });

  it("refuses to start without its settings, naming the missing one", async () => {
    const run = await regenerate({ KEYCLOAK_REALM: "" });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("KEYCLOAK_REALM is not set");
    expect(seen).toEqual([]);
  });
});

describe("the token-exchange Secret's value", () => {
  it("has the shape of upstream's sample: the key Authorino reads, holding bare base64 of id:secret", () => {
    // config/samples/oauth-token-exchange: stringData oauth-client-basic-auth: bWNwLWdhdGV3YXk6c2VjcmV0
    expect(tokenExchangeSecretData(GATEWAY_CLIENT_ID, "secret")).toEqual({
      "oauth-client-basic-auth": Buffer.from("bWNwLWdhdGV3YXk6c2VjcmV0").toString("base64"),
    });
  });

  it("carries the generated secret", () => {
    const data = tokenExchangeSecretData(GATEWAY_CLIENT_ID, GENERATED)["oauth-client-basic-auth"];
    const basic = Buffer.from(data, "base64").toString("utf8");
    expect(Buffer.from(basic, "base64").toString("utf8")).toBe(`mcp-gateway:${GENERATED}`);
  });
});
