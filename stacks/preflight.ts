/**
 * Before `pulumi up` touches anything: are the services and tools the config points at there?
 * Skipped on preview, which must work with nothing reachable. Each problem names the config key,
 * its value and what is needed, like a config error.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { PROJECT, type StackConfig } from "./config";

export interface Probes {
  /** Resolves true when a TCP connection to host:port opens within the timeout. */
  reachable(host: string, port: number): Promise<boolean>;
  /** Whether a command is on PATH. */
  hasCommand(name: string): boolean;
  readFile(path: string): string | undefined;
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
): Promise<string[]> {
  const problems: string[] = [];
  const key = (k: string) => `${PROJECT}:${k}`;

  if (cfg.cluster.mode === "kind") {
    for (const tool of ["git", "make"]) {
      if (!probes.hasCommand(tool))
        problems.push(`${key("cluster.mode")} = 'kind': needs '${tool}' on PATH (the gateway's make targets run it)`);
    }
    if (!probes.hasCommand("docker") && !probes.hasCommand("podman")) {
      problems.push(`${key("cluster.mode")} = 'kind': needs 'docker' or 'podman' on PATH to run the Kind cluster`);
    }
  } else if (kubeconfig !== undefined) {
    const contents = probes.readFile(kubeconfig) ?? kubeconfig;
    const server = apiServerOf(contents, cfg.cluster.context);
    if (!server) {
      problems.push(
        `${key("cluster.kubeconfig")} = (secret): expected a kubeconfig whose context '${cfg.cluster.context ?? "current-context"}' names a cluster with a server`,
      );
    } else if (!(await probes.reachable(endpoint(server).host, endpoint(server).port))) {
      problems.push(
        `${key("cluster.kubeconfig")} = (secret): its API server ${server} is not reachable; start the cluster or fix the kubeconfig`,
      );
    }
    // In kind mode Keycloak is created by the stack itself; on an existing cluster it must be up.
    if (cfg.keycloak && !(await probes.reachable(endpoint(cfg.keycloak.url).host, endpoint(cfg.keycloak.url).port))) {
      problems.push(
        `${key("keycloak.url")} = '${cfg.keycloak.url}': Keycloak is not reachable there; start it or fix the URL`,
      );
    }
  }
  return problems;
}

/** Runs the preflight unless this is a preview, and stops with one RunError listing every problem. */
export async function assertPreflight(cfg: StackConfig, probes: Probes = realProbes): Promise<void> {
  if (pulumi.runtime.isDryRun()) return;
  const kubeconfig = cfg.cluster.kubeconfig
    ? await new Promise<string>((resolve) => cfg.cluster.kubeconfig!.apply((v) => resolve(v)))
    : undefined;
  const problems = await preflight(cfg, kubeconfig, probes);
  if (problems.length > 0) {
    throw new pulumi.RunError(
      `Preflight failed, nothing was changed (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
}
