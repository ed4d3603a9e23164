import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import {
  hostStateDir,
  REPO_ROOT,
  scratchStack,
  stepCounter,
  useProgramOf,
  type Scratch,
} from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createRealm } from "../../testbed/keycloak/realms";
import { listTools } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// A live upgrade: a use-case-3 stack made by main as it was before one component per cluster (the
// use-case chain: every server piece at the stack's top level, the Keycloak provider inside use case
// 2's access component), then `up` with this checkout's program in the same project dir. Aliases
// must carry every moved URN's state: no create of a real resource, no replace, no delete, and the
// servers the old program started keep running.
const BEFORE_REDESIGN = "38967a7";
const TAG = "guide-397bf8d";
const GATEWAY_PATCH = "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch";
const COMPONENT = "mcp-gateway-stack:mcp:ClusterMcpServer";

let keycloak: Keycloak;
let gatewayApi: ApiServer;
let clusterB: ApiServer;
let s: Scratch;
let port: number;
let portB: number;
const pids: Record<string, string> = {};
const steps: Record<string, Record<string, number>> = {};

const pidOf = (name: string) => fs.readFileSync(`${hostStateDir(s, name)}/server.pid`, "utf8").trim();

beforeAll(async () => {
  // A clone without the old commit (shallow) cannot run this test: say so instead of a git error.
  execFileSync("git", ["-C", REPO_ROOT, "cat-file", "-e", `${BEFORE_REDESIGN}^{commit}`]);
  keycloak = await startKeycloak(TAG);
  const realmB = await createRealm(keycloak, "cluster-b");
  gatewayApi = startApiServer({ keycloak, tag: TAG });
  clusterB = startApiServer({ keycloak, tag: TAG, issuer: realmB.issuer, clientId: "mcp-test/kubernetes-mcp-b" });
  s = await scratchStack("dev", standIns().env);
  useProgramOf(s, BEFORE_REDESIGN);
  [port, portB] = [freePort(), freePort()];
  await useTestBed(s.stack, { apiServer: gatewayApi, tag: TAG, port, keycloak, useCase: "cross-domain" });
  await s.stack.setAllConfig(
    {
      "domains[0].name": { value: "b" },
      "domains[0].realm": { value: realmB.name },
      "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
      "domains[0].port": { value: String(portB) },
      "domains[0].host": { value: "kube-b.mcp.test" },
    },
    true,
  );
  const before = await s.stack.up();
  expect(before.summary.result).toBe("succeeded");
  for (const name of ["kubernetes-mcp-server", "kubernetes-mcp-server-b"]) pids[name] = pidOf(name);

  useProgramOf(s);
  const counters = Object.fromEntries(
    ["create", "update", "replace", "create-replacement", "delete", "delete-replaced"].map((op) => [
      op,
      stepCounter(op),
    ]),
  );
  const after = await s.stack.up({ onEvent: (e) => Object.values(counters).forEach((c) => c.onEvent(e)) });
  expect(after.summary.result).toBe("succeeded");
  for (const [op, c] of Object.entries(counters)) steps[op] = c.counts;
}, 900_000);

afterAll(async () => {
  await tearDownStack(s);
  clusterB?.stop();
  gatewayApi?.stop();
  keycloak?.stop();
});

describe(`a live use-case-3 stack made by ${BEFORE_REDESIGN}, then up with one component per cluster`, () => {
  it("replaces nothing, deletes nothing and creates only the two server components (no cloud object)", () => {
    expect(steps.replace).toEqual({});
    expect(steps["create-replacement"]).toEqual({});
    expect(steps.delete).toEqual({});
    expect(steps["delete-replaced"]).toEqual({});
    expect(steps.create).toEqual({ [COMPONENT]: 2 });
  });

  it("updates only the two Gateway patches (their known positional diff) and the Keycloak provider's new clientTimeout", () => {
    // The provider's setting changes in place: nothing that uses it is replaced (above).
    expect(steps.update).toEqual({ [GATEWAY_PATCH]: 2, "pulumi:providers:keycloak": 1 });
  });

  it("keeps both servers the old program started: same pids, still answering through their ports", async () => {
    for (const name of Object.keys(pids)) expect(pidOf(name), name).toBe(pids[name]);
    // Use case 3's servers have no credentials of their own: tools/list needs no cluster call.
    for (const p of [port, portB]) expect(await listTools(`http://127.0.0.1:${p}/mcp`)).toContain("namespaces_list");
  });

  it("moved every server piece under its cluster's component, in the state", async () => {
    const resources = (await s.stack.exportStack()).deployment.resources as Array<{ urn: string; type: string }>;
    const under = (component: string) =>
      resources.filter((r) => r.urn.includes(`${COMPONENT}$`) && r.urn.endsWith(`::${component}`)).length;
    expect(under("kubernetes-mcp-server")).toBe(1);
    expect(under("kubernetes-mcp-server-b")).toBe(1);
    expect(resources.filter((r) => r.type === COMPONENT)).toHaveLength(2);
    // No resource left at an old URN beside its new one.
    const names = resources.map((r) => r.urn.split("::").pop());
    expect(names.filter((n) => n === "kubernetes-mcp-access")).toHaveLength(1);
  });

  it("a second up with the new program changes nothing but the Gateway patches", async () => {
    const updates = stepCounter("update");
    const result = await s.stack.up({ onEvent: updates.onEvent });
    expect(updates.counts).toEqual({ [GATEWAY_PATCH]: 2 });
    expect(Object.keys(result.summary.resourceChanges ?? {}).sort()).toEqual(["same", "update"]);
  });
});
