/** A scratch stack pointed at the test bed, and its teardown. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import type { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import type { ApiServer } from "../apiserver/apiServer";
import { gatewayRepo, type GatewayTag } from "../gateway/checkout";
import type { Keycloak } from "../keycloak/keycloak";

/**
 * Stops every kubernetes-mcp-server a scratch stack started (its kubeconfig lives in `dir`): the
 * last step of a test file, so a failed destroy leaves no server behind.
 */
function stopLeftoverServers(dir: string): void {
  const pids = execFileSync("ps", ["-eo", "pid=,stat=,args="], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(
      ([, stat, ...args]) =>
        stat &&
        !stat.startsWith("Z") &&
        args.join(" ").includes("kubernetes-mcp-server") &&
        args.join(" ").includes(dir),
    )
    .map(([pid]) => Number(pid));
  for (const pid of pids) process.kill(pid, "SIGKILL");
}

/**
 * The last step of a test file that ran a stack: destroy it (errors ignored: the test already
 * failed), then stop any server a failed destroy left behind.
 */
export async function tearDownStack(s: { stack: Stack; dir: string } | undefined): Promise<void> {
  if (!s) return;
  await s.stack.destroy().catch(() => undefined);
  stopLeftoverServers(s.dir);
}

/**
 * Points a stack at the test bed: an existing cluster (the loopback API server), the gateway
 * repository at `tag` (for the token-exchange setup), a kubernetes-mcp-server the stack starts
 * on loopback at `port`, and for `oidc` the test bed's Keycloak, verified with its CA.
 */
export async function useTestBed(
  stack: Stack,
  bed: {
    apiServer: ApiServer;
    tag: GatewayTag;
    port: number;
    keycloak?: Keycloak;
    useCase?: "no-auth" | "oidc" | "cross-domain";
  },
): Promise<void> {
  const config: ConfigMap = {
    useCase: { value: bed.useCase ?? "no-auth" },
    "cluster.mode": { value: "existing" },
    "cluster.kubeconfig": { value: fs.readFileSync(bed.apiServer.kubeconfig, "utf8"), secret: true },
    "cluster.repoUrl": { value: gatewayRepo() },
    "cluster.ref": { value: bed.tag },
    "mcpServer.port": { value: String(bed.port) },
    "mcpServer.bindAddress": { value: "127.0.0.1" },
  };
  if (bed.keycloak) {
    Object.assign(config, {
      "keycloak.url": { value: bed.keycloak.url },
      "keycloak.adminUser": { value: bed.keycloak.adminUser },
      "keycloak.adminPassword": { value: bed.keycloak.adminPassword, secret: true },
      "keycloak.rootCaCertificate": { value: fs.readFileSync(bed.keycloak.ca, "utf8") },
      "keycloak.tlsInsecureSkipVerify": { value: "false" },
      // The loopback API server has no aggregated ClusterRoles (view is empty): bind cluster-admin.
      "oidc.clusterRole": { value: "cluster-admin" },
      "oidc.allowClusterAdmin": { value: "true" },
    });
  }
  await stack.setAllConfig(config, true);
}
