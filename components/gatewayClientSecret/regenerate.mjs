// Gives a realm's confidential client a new secret that Keycloak generates, and prints only that
// secret on stdout (the Command marks stdout secret and does not log it). Settings come from the
// environment; nothing written to stderr holds a secret: errors name the step and HTTP status,
// never Keycloak's answer.
import * as http from "node:http";
import * as https from "node:https";

const fail = (message) => {
  process.stderr.write(`mcp-gateway-stack: ${message}\n`);
  process.exit(1);
};

// V8's JSON errors quote the text they could not parse: that could be a secret.
const parse = (body, what) => {
  try {
    return JSON.parse(body);
  } catch {
    return fail(`${what}: the answer is not JSON`);
  }
};

const setting = (name) => process.env[name] || fail(`${name} is not set`);
const url = setting("KEYCLOAK_URL");
const realm = setting("KEYCLOAK_REALM");
const clientId = setting("KEYCLOAK_CLIENT_ID");
const adminUser = setting("KEYCLOAK_ADMIN_USER");
const adminPassword = setting("KEYCLOAK_ADMIN_PASSWORD");

// One request, verified with keycloak.rootCaCertificate (or not, with tlsInsecureSkipVerify),
// as the stack's Keycloak provider and preflight do.
function call(method, path, { token, form } = {}) {
  const target = new URL(path, url);
  const client = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method,
        ca: process.env.KEYCLOAK_CA || undefined,
        rejectUnauthorized: process.env.KEYCLOAK_TLS_INSECURE !== "true",
        timeout: 10_000,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
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
    req.end(form ? new URLSearchParams(form).toString() : undefined);
  });
}

async function main() {
  const login = await call("POST", "/realms/master/protocol/openid-connect/token", {
    form: { grant_type: "password", client_id: "admin-cli", username: adminUser, password: adminPassword },
  });
  if (login.status !== 200) fail(`the admin login of '${adminUser}' was refused (HTTP ${login.status})`);
  const token = parse(login.body, "the admin login").access_token;

  const admin = `/admin/realms/${encodeURIComponent(realm)}/clients`;
  const found = await call("GET", `${admin}?clientId=${encodeURIComponent(clientId)}`, { token });
  if (found.status !== 200) fail(`listing the clients of realm '${realm}' answered HTTP ${found.status}`);
  const client = parse(found.body, "listing the clients").find((c) => c.clientId === clientId);
  if (!client) fail(`realm '${realm}' has no client '${clientId}'`);

  const generated = await call("POST", `${admin}/${client.id}/client-secret`, { token });
  const value = generated.status === 200 ? parse(generated.body, "the generated secret").value : undefined;
  if (typeof value !== "string" || value === "")
    fail(`generating a secret for client '${clientId}' answered HTTP ${generated.status}`);
  process.stdout.write(value);
}

main().catch((err) => fail(`Keycloak at ${url}: ${err.message}`));
