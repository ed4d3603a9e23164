/**
 * The gateway's in-cluster Keycloak (config/keycloak/deployment.yaml) as a kubelet and Deployment
 * controller would run it, on the loopback test bed: each new pod template of the Deployment stops
 * the running Keycloak and starts one from that template, then reports the rollout in the
 * Deployment's status. What a template decides here, as in a pod:
 * - the image's tag: the Keycloak version (from Maven Central; a tag not served there maps to the
 *   nearest served release without the grant, see MAVEN_RELEASE);
 * - KC_FEATURES: the build's features (none without it);
 * - KC_TRUSTSTORE_PATHS, read from the ConfigMap volume mounted at that path: Keycloak's outgoing
 *   trust (none without it: only the JDK's CAs, so no realm can fetch another's keys);
 * - a fresh database from the realm import, as a new pod's dev-mode H2 has.
 * Same port, certificate and admin as before: the Service, and the gateway's TLS, stay. hostAliases
 * are recorded, not applied (the test bed's Keycloak is reached at 127.0.0.1 anyway).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Api } from "../https";
import type { Keycloak } from "./keycloak";

const log = (line: string) => process.stderr.write(`keycloak-pod: ${line}\n`);

/** A Keycloak started from one pod template. */
export interface PodStart {
  generation: number;
  image: string;
  version: string;
  features: string;
  /** The truststore file the template mounts, or undefined. */
  truststore?: string;
  hostAliases: Array<{ ip: string; hostnames: string[] }>;
}

/** Image tags that Maven Central does not serve as such: the release that stands in for each. */
export const MAVEN_RELEASE: Record<string, string> = {
  "26.3": "26.4.7", // the guide's pin: 26.3.x is not served here; 26.4.7 has no grant either
  "26.4": "26.4.7", // Kuadrant v0.9.0's pin
  "26.5": "26.5.6",
  "26.7": "26.7.3",
};

/** The Keycloak release an image runs. */
export function releaseOf(image: string): string {
  const tag = image.slice(image.lastIndexOf(":") + 1);
  if (/^\d+\.\d+\.\d+$/.test(tag)) return tag;
  const release = MAVEN_RELEASE[tag];
  if (!release) throw new Error(`keycloak pod: image ${image}: no Keycloak release for tag '${tag}'`);
  return release;
}

type Container = {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
};
type PodSpec = {
  containers: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string } }>;
  hostAliases?: Array<{ ip: string; hostnames: string[] }>;
};

export interface KeycloakDeployment {
  /** The Keycloak of the pod running now. */
  current(): Keycloak;
  /** Every pod started, the first one included. */
  starts: PodStart[];
  /** Resolves once the running pod is the Deployment's latest template. */
  settled(): Promise<void>;
  stop(): void;
}

/**
 * Watches Deployment `namespace/name` on `kube` (polling, 1 s) and runs its pods with `start`
 * (testbed/keycloak/start.sh with the given environment). `first` is the pod of the Deployment's
 * template as it is now (started before the API servers, which need its address and CA).
 */
export async function runKeycloakDeployment(
  kube: Api,
  start: (env: Record<string, string>) => Promise<Keycloak>,
  { namespace, name, container }: { namespace: string; name: string; container: string },
  first: { keycloak: Keycloak; pod: PodStart },
): Promise<KeycloakDeployment> {
  const deployment = `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-keycloak-pod-"));
  const starts: PodStart[] = [first.pod];
  const now = (await kube.get(deployment)).json;
  let running: { template: string; keycloak: Keycloak } | undefined = {
    template: JSON.stringify(now.spec.template),
    keycloak: first.keycloak,
  };
  let failure: Error | undefined;
  let failedTemplate: string | undefined;

  /** The file a container path names, written from the ConfigMap volume mounted over it. */
  async function mountedFile(spec: PodSpec, c: Container, file: string, dir: string): Promise<string> {
    const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    const cm = spec.volumes?.find((v) => v.name === mount?.name)?.configMap?.name;
    if (!mount || !cm) throw new Error(`keycloak pod: ${file} is on no ConfigMap volume`);
    const data = (await kube.get(`/api/v1/namespaces/${namespace}/configmaps/${cm}`)).json.data ?? {};
    const key = file.slice(mount.mountPath.length + 1);
    if (typeof data[key] !== "string") throw new Error(`keycloak pod: ConfigMap ${cm} has no key ${key}`);
    const local = path.join(dir, key);
    fs.writeFileSync(local, data[key]);
    return local;
  }

  async function startPod(d: any): Promise<Keycloak> {
    const spec: PodSpec = d.spec.template.spec;
    const c = spec.containers.find((x) => x.name === container);
    if (!c) throw new Error(`keycloak pod: no container ${container}`);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? ""]));
    const dir = fs.mkdtempSync(path.join(work, `gen${d.metadata.generation}-`));
    const truststore = env.KC_TRUSTSTORE_PATHS ? await mountedFile(spec, c, env.KC_TRUSTSTORE_PATHS, dir) : undefined;
    const pod: PodStart = {
      generation: d.metadata.generation,
      image: c.image,
      version: releaseOf(c.image),
      features: env.KC_FEATURES ?? "",
      truststore,
      hostAliases: spec.hostAliases ?? [],
    };
    // The Service's address and certificate stay: kept from the old pod before it goes.
    let reuse: Record<string, string> = {};
    if (running) {
      const kept = path.join(dir, "service");
      fs.mkdirSync(kept);
      for (const f of ["ca.crt", "ca.key", "tls.crt", "tls.key", "ports", "env"])
        fs.copyFileSync(path.join(running.keycloak.dir, f), path.join(kept, f));
      running.keycloak.stop();
      reuse = { MCP_KEYCLOAK_REUSE_DIR: kept };
    }
    log(
      `generation ${pod.generation}: ${pod.image} as ${pod.version}, features '${pod.features}', truststore ${truststore ?? "none"}`,
    );
    const keycloak = await start({
      ...reuse,
      MCP_KEYCLOAK_VERSION: pod.version,
      MCP_KEYCLOAK_FEATURES: pod.features,
      MCP_KEYCLOAK_TRUSTSTORE: truststore ?? "none",
    });
    starts.push(pod);
    return keycloak;
  }

  async function reconcile(): Promise<void> {
    const res = await kube.get(deployment);
    if (res.status !== 200) return;
    const d = res.json;
    const template = JSON.stringify(d.spec.template);
    failedTemplate = template;
    if (running?.template !== template) running = { template, keycloak: await startPod(d) };
    const s = d.status ?? {};
    if (s.observedGeneration !== d.metadata.generation || s.availableReplicas !== 1) {
      const status = {
        observedGeneration: d.metadata.generation,
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
      };
      // Only if the template is still the one running (else the next round starts the new one).
      const now = (await kube.get(deployment)).json;
      if (JSON.stringify(now.spec.template) === template)
        await kube.request("PATCH", `${deployment}/status`, { status }, "application/merge-patch+json");
    }
  }

  let stopped = false;
  let idle: Promise<void> = reconcile();
  await idle;
  const loop = async () => {
    while (!stopped) {
      idle = reconcile().catch(async (e: Error) => {
        log(`error: ${e.message}`);
        // A template that is gone already (a ConfigMap deleted after it) is no failure: a kubelet
        // would retry until the next template came.
        const d = (await kube.get(deployment).catch(() => undefined))?.json;
        if (JSON.stringify(d?.spec?.template) === failedTemplate) failure ??= e;
      });
      await idle;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void loop();

  return {
    current: () => running!.keycloak,
    starts,
    async settled() {
      for (;;) {
        if (failure) throw failure;
        const d = (await kube.get(deployment)).json;
        if (
          JSON.stringify(d.spec.template) === running?.template &&
          d.status?.observedGeneration === d.metadata.generation
        )
          return;
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    stop() {
      stopped = true;
      running?.keycloak.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
