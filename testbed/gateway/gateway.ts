/**
 * The MCP Gateway's own program (testbed/gateway/build.sh) on the test bed: its controller
 * (`-controller`) against the loopback API server, and its broker on a loopback address of its own.
 * In a cluster the broker runs behind the Service `mcp-system/mcp-broker`, whose EndpointSlice the
 * controller asks for the broker's `/status` (port 8080, fixed in the controller); here the test
 * bed writes that EndpointSlice itself. The API server refuses loopback addresses there, so the
 * slice names 192.0.2.10 (TEST-NET-1, routed nowhere), and the controller reaches it through an
 * HTTP proxy of the test (HTTP_PROXY; Go never proxies loopback, so its API server calls go
 * direct) that sends 192.0.2.10:8080 to the broker on loopback: what kube-proxy does for a
 * Service in a cluster. In a cluster the kubelet mounts the controller's ConfigMap into the
 * broker; here `syncConfig` copies it.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { ApiServer } from "../apiserver/apiServer";
import { REPO_ROOT, scratchTmp } from "../engine/engine";
import { freePort } from "../processes";
import type { GatewayTag } from "./checkout";

const BROKER_NAMESPACE = "mcp-system";
/** What the controller of guide-fd2e9da writes: ConfigMap mcp-system/mcp-gateway-config, key config.yaml. */
export const BROKER_CONFIG = `/api/v1/namespaces/${BROKER_NAMESPACE}/configmaps/mcp-gateway-config`;

export interface Gateway {
  /** The broker's MCP endpoint. */
  brokerUrl: string;
  dir: string;
  /** Copies the controller's broker configuration into the broker's config file; returns its YAML. */
  syncConfig(): Promise<string>;
  /** The processes' logs, for a failure message. */
  logs(): string;
  /** Stops and starts the controller: on start it reconciles every MCPServer again. */
  restartController(): Promise<void>;
  stop(): Promise<void>;
}

/** The broker's address in the EndpointSlice (TEST-NET-1) and the port the controller asks. */
const BROKER_ENDPOINT = { ip: "192.0.2.10", port: 8080 };

/** An HTTP proxy on loopback that forwards requests for BROKER_ENDPOINT to the broker, and nothing else. */
async function brokerProxy(brokerPort: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const target = new URL(req.url ?? "/", "http://invalid");
    if (target.hostname !== BROKER_ENDPOINT.ip || Number(target.port || 80) !== BROKER_ENDPOINT.port) {
      res.writeHead(502).end(`the test bed's proxy forwards only ${BROKER_ENDPOINT.ip}:${BROKER_ENDPOINT.port}`);
      return;
    }
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: brokerPort,
        method: req.method,
        path: target.pathname + target.search,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => res.writeHead(502).end(String(err)));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function startDetached(bin: string, args: string[], log: string, env: Record<string, string> = {}): ChildProcess {
  const out = fs.openSync(log, "a");
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", out, out], env: { ...process.env, ...env } });
  fs.closeSync(out);
  return child;
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid, "SIGTERM");
  const timer = setTimeout(() => child.exitCode === null && process.kill(-child.pid!, "SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` until it holds; a check that throws an Error whose message says "exited" ends it. */
async function waitFor(what: string, check: () => Promise<boolean>, seconds: number, logs: () => string) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const ok = await check().catch((err: Error) => {
      if (err.message.includes("exited")) throw err;
      return false;
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${seconds} s\n${logs()}`);
}

/** The gateway's programs at `tag`, built (cached) from the gateway repository. */
export function gatewayBinaries(tag: GatewayTag): { brokerRouter: string; controller: string } {
  const out = execFileSync("bash", [path.join(REPO_ROOT, "testbed/gateway/build.sh"), tag], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const value = (name: string) => out.match(new RegExp(`^export ${name}=(.*)$`, "m"))![1];
  return { brokerRouter: value("MCP_BROKER_ROUTER"), controller: value("MCP_CONTROLLER") };
}

const readLogs = (dir: string) => () =>
  ["broker.log", "controller.log"]
    .map(
      (f) =>
        `--- ${f}\n${fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8").slice(-4000) : ""}`,
    )
    .join("\n");

/** Starts the broker on loopback with a config file; resolves when its /status answers. */
async function startBroker(bin: string, dir: string, config: string, publicHost: string, extraArgs: string[] = []) {
  const [port, routerPort] = [freePort(), freePort()];
  const broker = startDetached(
    bin,
    [
      "--mcp-broker-public-address",
      `127.0.0.1:${port}`,
      "--mcp-router-address",
      `127.0.0.1:${routerPort}`,
      "--mcp-gateway-config",
      config,
      // The host the gateway serves MCP on (the stack's gateway.publicHost); the broker requires it.
      "--mcp-gateway-public-host",
      publicHost,
      ...extraArgs,
    ],
    path.join(dir, "broker.log"),
    // Both releases read it (v0.9.0 as GATEWAY_SIGNING_KEY too); v0.9.0 wants at least 32 bytes.
    { JWT_SESSION_SIGNING_KEY: randomBytes(32).toString("hex") },
  );
  await waitFor(
    "the broker's /status",
    async () => {
      if (broker.exitCode !== null) throw new Error(`the broker exited (${broker.exitCode})\n${readLogs(dir)()}`);
      return (await fetch(`http://127.0.0.1:${port}/status`)).ok;
    },
    30,
    readLogs(dir),
  );
  return { broker, port };
}

/**
 * Starts the broker (empty configuration), the EndpointSlice that names it, then the controller:
 * in that order, because the controller validates through the broker and does not retry when it
 * finds no broker endpoint.
 */
export async function startGateway(apiServer: ApiServer, tag: GatewayTag, publicHost: string): Promise<Gateway> {
  const bin = gatewayBinaries(tag);
  const dir = scratchTmp("mcp-gateway-run-");
  const config = path.join(dir, "config.yaml");
  fs.writeFileSync(config, "servers: []\n");
  const logs = readLogs(dir);

  const kube = apiServer.kube;
  await kube.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: BROKER_NAMESPACE },
  });
  const slice = await kube.request("POST", `/apis/discovery.k8s.io/v1/namespaces/${BROKER_NAMESPACE}/endpointslices`, {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "mcp-broker-testbed", labels: { "app.kubernetes.io/component": "mcp-broker" } },
    addressType: "IPv4",
    endpoints: [{ addresses: [BROKER_ENDPOINT.ip], conditions: { ready: true } }],
    ports: [{ name: "http", port: BROKER_ENDPOINT.port, protocol: "TCP" }],
  });
  if (slice.status !== 201) throw new Error(`EndpointSlice for the broker: HTTP ${slice.status} ${slice.text}`);

  const { broker, port } = await startBroker(bin.brokerRouter, dir, config, publicHost);
  const proxy = await brokerProxy(port);
  const startController = () =>
    startDetached(bin.controller, ["--controller"], path.join(dir, "controller.log"), {
      KUBECONFIG: apiServer.kubeconfig,
      HTTP_PROXY: proxy.url,
      NO_PROXY: "",
    });
  let controller = startController();

  return {
    brokerUrl: `http://127.0.0.1:${port}/mcp`,
    dir,
    logs,
    async syncConfig() {
      let yaml = "";
      await waitFor(
        "the controller's broker configuration",
        async () => {
          const res = await kube.get(BROKER_CONFIG);
          yaml = res.json.data?.["config.yaml"] ?? "";
          return res.status === 200 && yaml.includes("url:");
        },
        60,
        logs,
      );
      fs.writeFileSync(config, yaml);
      return yaml;
    },
    async restartController() {
      await stopGroup(controller);
      controller = startController();
    },
    async stop() {
      await Promise.all([stopGroup(controller), stopGroup(broker)]);
      await proxy.close();
    },
  };
}

/**
 * Kuadrant's gateway (kuadrant-v0.9.0): its controller (./cmd) and, once the controller has
 * written the broker configuration (Secret `mcp-gateway-config` in the MCPGatewayExtension's
 * namespace), the broker with that configuration. What Istio and the gateway's installation leave
 * in a cluster, the test bed writes: the HTTPRoute's `Accepted` status (Istio's controller) and an
 * MCPGatewayExtension for listener `mcp`, in the Gateway's own namespace (`make deploy` puts it in
 * mcp-system, where the controller would also wait for the broker Deployment's pods to be ready).
 */
export async function startKuadrantGateway(
  apiServer: ApiServer,
  a: {
    /** The HTTPRoutes of the registrations the controller should take (each gets its `Accepted` status). */
    routes: { namespace: string; name: string }[];
    gateway: { namespace: string; name: string };
    publicHost: string;
  },
) {
  const bin = gatewayBinaries("kuadrant-v0.9.0");
  const dir = scratchTmp("mcp-gateway-run-");
  const logs = readLogs(dir);
  const kube = apiServer.kube;
  const parentRef = { group: "gateway.networking.k8s.io", kind: "Gateway", ...a.gateway };
  for (const route of a.routes) {
    const routePath = `/apis/gateway.networking.k8s.io/v1/namespaces/${route.namespace}/httproutes/${route.name}`;
    const accepted = await kube.request(
      "PATCH",
      `${routePath}/status`,
      {
        status: {
          parents: [
            {
              parentRef,
              controllerName: "istio.io/gateway-controller",
              conditions: [
                {
                  type: "Accepted",
                  status: "True",
                  reason: "Accepted",
                  message: "test bed: as Istio's gateway controller",
                  lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
                  observedGeneration: 1,
                },
              ],
            },
          ],
        },
      },
      "application/merge-patch+json",
    );
    if (accepted.status !== 200)
      throw new Error(`HTTPRoute ${route.name} status: HTTP ${accepted.status} ${accepted.text}`);
  }
  const extension = await kube.request(
    "POST",
    `/apis/mcp.kuadrant.io/v1/namespaces/${a.gateway.namespace}/mcpgatewayextensions`,
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPGatewayExtension",
      metadata: { name: "mcp-gateway-extension", namespace: a.gateway.namespace },
      spec: { targetRef: { ...parentRef, sectionName: "mcp" } },
    },
  );
  if (extension.status !== 201) throw new Error(`MCPGatewayExtension: HTTP ${extension.status} ${extension.text}`);

  const controller = startDetached(bin.controller, [], path.join(dir, "controller.log"), {
    KUBECONFIG: apiServer.kubeconfig,
  });
  const configPath = `/api/v1/namespaces/${a.gateway.namespace}/secrets/mcp-gateway-config`;
  let broker: ChildProcess | undefined;
  let brokerPort = 0;
  return {
    dir,
    logs,
    /** The broker configuration the controller wrote (YAML), once it names a server. */
    async config(): Promise<string> {
      let yaml = "";
      await waitFor(
        "the controller's broker configuration",
        async () => {
          const res = await kube.get(configPath);
          yaml = Buffer.from(res.json.data?.["config.yaml"] ?? "", "base64").toString("utf8");
          return res.status === 200 && yaml.includes("url:");
        },
        60,
        logs,
      );
      return yaml;
    },
    /** Starts the broker with the controller's configuration; its MCP endpoint. */
    async startBroker(): Promise<string> {
      const file = path.join(dir, "config.yaml");
      fs.writeFileSync(file, await this.config());
      const started = await startBroker(bin.brokerRouter, dir, file, a.publicHost, [
        "--metrics-addr",
        `127.0.0.1:${freePort()}`,
      ]);
      [broker, brokerPort] = [started.broker, started.port];
      return `http://127.0.0.1:${brokerPort}/mcp`;
    },
    async stop() {
      await Promise.all([stopGroup(controller), ...(broker ? [stopGroup(broker)] : [])]);
    },
  };
}
