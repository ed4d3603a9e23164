import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { processesWith } from "../../testbed/processes";

// The test bed's in-place restarts the fault-injection suites rely on: same URL, certs and data,
// new processes, and stop() still stops everything.
let apiServer: ApiServer | undefined;
let keycloak: Keycloak | undefined;

const pidIn = (dir: string, file: string) => Number(fs.readFileSync(path.join(dir, file), "utf8").trim());
/** NAME's value in an env file of start.sh (`NAME=v` or `export NAME=v`). */
const envIn = (dir: string, name: string) =>
  fs.readFileSync(path.join(dir, "env"), "utf8").match(new RegExp(`^(?:export )?${name}=(.*)$`, "m"))?.[1];

function timedRestart(label: string, restart: () => void): void {
  const t0 = Date.now();
  restart();
  console.log(`testbed-restart: ${label} restarted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

beforeAll(async () => {
  keycloak = await startKeycloak("guide-397bf8d");
  apiServer = startApiServer();
});

afterAll(() => {
  apiServer?.stop();
  keycloak?.stop();
});

describe("the test bed restarts its API server and Keycloak in place", () => {
  it("API server: same URL and certs, the ConfigMap still there, a new pid", async () => {
    const a = apiServer!;
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "restart-probe" }, data: { k: "v" } };
    expect((await a.kube.request("POST", "/api/v1/namespaces/default/configmaps", cm)).status).toBe(201);
    const before = pidIn(a.dir, "kube-apiserver.pid");

    timedRestart("kube-apiserver", () => a.restart());

    expect(pidIn(a.dir, "kube-apiserver.pid")).not.toBe(before);
    expect(envIn(a.dir, "APISERVER_PID")).toBe(String(pidIn(a.dir, "kube-apiserver.pid")));
    expect(envIn(a.dir, "APISERVER_URL")).toBe(a.url);
    // The client made before the restart (same CA, same token) reads what etcd kept.
    const got = await a.kube.get("/api/v1/namespaces/default/configmaps/restart-probe");
    expect(got.status).toBe(200);
    expect(got.json.data).toEqual({ k: "v" });
    // etcd and the controller-manager ran on.
    expect(processesWith(a.dir, "etcd --name")).toHaveLength(1);
    expect(processesWith(a.dir, "kube-controller-manager")).toHaveLength(1);
  });

  it("Keycloak: same URL and TLS, the group created over the admin API still there, a new pid", async () => {
    const k = keycloak!;
    const created = await (await k.admin()).request("POST", "/admin/realms/mcp/groups", { name: "restart-probe" });
    expect(created.status).toBe(201);
    const before = pidIn(k.dir, "keycloak.pid");

    timedRestart("Keycloak", () => k.restart());

    expect(pidIn(k.dir, "keycloak.pid")).not.toBe(before);
    expect(envIn(k.dir, "KEYCLOAK_PID")).toBe(String(pidIn(k.dir, "keycloak.pid")));
    expect(envIn(k.dir, "KEYCLOAK_URL")).toBe(k.url);
    expect((await k.api.get("/realms/mcp/.well-known/openid-configuration")).json.issuer).toBe(k.issuer);
    const groups = (await (await k.admin()).get("/admin/realms/mcp/groups?search=restart-probe&exact=true")).json;
    expect(groups.map((g: { name: string }) => g.name)).toEqual(["restart-probe"]);
  });

  it("stop() after a restart leaves no process and no dir", () => {
    const dirs = [apiServer!.dir, keycloak!.dir];
    apiServer!.stop();
    keycloak!.stop();
    apiServer = keycloak = undefined;
    for (const dir of dirs) {
      expect(processesWith(`${dir}/`)).toEqual([]);
      expect(fs.existsSync(dir)).toBe(false);
    }
  });
});
