// Sets the in-cluster Keycloak container's image (KEYCLOAK_IMAGE_ACTION=set) or puts back the one it
// replaced (restore), then waits for the Deployment's rollout. The replaced image is kept in an
// annotation of the Deployment, written once: a run interrupted after the swap, run again, still
// knows the original. stdout: the original image. Settings come from the environment; the
// credentials (KUBE_ACCESS) are never printed.
import * as https from "node:https";

const fail = (message) => {
  process.stderr.write(`mcp-gateway-stack: ${message}\n`);
  process.exit(1);
};
const setting = (name) => process.env[name] || fail(`${name} is not set`);

const ORIGINAL = "mcp-gateway-stack.io/keycloak-image-before";
const action = setting("KEYCLOAK_IMAGE_ACTION");
const access = JSON.parse(setting("KUBE_ACCESS"));
const ns = setting("KEYCLOAK_NAMESPACE");
const name = setting("KEYCLOAK_DEPLOYMENT");
const container = setting("KEYCLOAK_CONTAINER");
const timeoutSeconds = Number(process.env.ROLLOUT_TIMEOUT_SECONDS || "600");
const where = `Deployment ${ns}/${name}`;
const url = new URL(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`, access.server);

function call(method, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: access.ca,
        cert: access.cert,
        key: access.key,
        rejectUnauthorized: !access.insecure,
        headers: {
          accept: "application/json",
          ...(access.token && { authorization: `Bearer ${access.token}` }),
          ...(body && { "content-type": "application/strategic-merge-patch+json" }),
        },
      },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, body: data }));
      },
    );
    req.on("error", reject);
    req.end(body && JSON.stringify(body));
  });
}

async function read() {
  const res = await call("GET").catch((e) =>
    fail(`${where}: the API server is not reachable (${e.code ?? e.message})`),
  );
  if (res.status === 404) return undefined;
  if (res.status !== 200) fail(`${where}: GET answered HTTP ${res.status}`);
  return JSON.parse(res.body);
}

async function patch(body) {
  const res = await call("PATCH", body);
  if (res.status !== 200) fail(`${where}: PATCH answered HTTP ${res.status}: ${res.body.slice(0, 300)}`);
}

const imageOf = (d) => d.spec.template.spec.containers.find((c) => c.name === container)?.image;

/** Until the Deployment's controller reports every replica updated and available. */
async function rollout() {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = 0;
  for (;;) {
    const d = await read();
    if (!d) return;
    const s = d.status ?? {};
    const want = d.spec.replicas ?? 1;
    if (
      (s.observedGeneration ?? 0) >= d.metadata.generation &&
      (s.updatedReplicas ?? 0) === want &&
      (s.availableReplicas ?? 0) === want &&
      (s.replicas ?? 0) === want
    )
      return;
    if (Date.now() > deadline)
      fail(`${where}: rollout not done after ${timeoutSeconds}s (kubectl -n ${ns} rollout status deployment/${name})`);
    if (Date.now() - last > 10_000) {
      process.stderr.write(`waiting for ${where} to roll out ${imageOf(d)}\n`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const containerPatch = (image) => ({
  spec: { template: { spec: { containers: [{ name: container, image }] } } },
});

const d = await read();
if (action === "set") {
  if (!d) fail(`${where} not found: is this the cluster 'make local-env-setup' made (its Keycloak)?`);
  if (!imageOf(d)) fail(`${where} has no container '${container}'`);
  const original = d.metadata.annotations?.[ORIGINAL] ?? imageOf(d);
  const image = setting("KEYCLOAK_IMAGE");
  await patch({ metadata: { annotations: { [ORIGINAL]: original } }, ...containerPatch(image) });
  await rollout();
  process.stdout.write(original);
} else if (action === "restore") {
  // Gone with its cluster (or deleted by hand): nothing to put back.
  if (!d) process.exit(0);
  const original = d.metadata.annotations?.[ORIGINAL] ?? process.env.PULUMI_COMMAND_STDOUT;
  if (!original) fail(`${where}: no record of the image the stack replaced (annotation ${ORIGINAL})`);
  await patch({ metadata: { annotations: { [ORIGINAL]: null } }, ...containerPatch(original) });
  await rollout();
} else {
  fail(`KEYCLOAK_IMAGE_ACTION=${action}: expected set or restore`);
}
