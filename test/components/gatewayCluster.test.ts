import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  kindClusters,
  kindSetupScript,
  kindTeardownScript,
  kindUpdateScript,
  kubeconfigForContext,
} from "../../components/gatewayCluster";
import { hostStateKey } from "../../components/hostState";
import { TWO_CONTEXTS } from "../support/pulumiHarness";

// Kind mode's create, update and delete scripts, run for real with /bin/sh (as the command
// provider runs them) in a checkout whose bin/kind and make are small fakes: a fake cluster
// list, a call log, and a make that prints what the real `make local-env-setup` prints.
function checkout(existing: string[] = [], makeStatus = 0, leaveRunning = "") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kind-scripts-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.mkdirSync(path.join(dir, "fakebin"));
  const log = path.join(dir, "calls.log");
  fs.writeFileSync(path.join(dir, "clusters"), existing.map((c) => `${c}\n`).join(""));
  fs.writeFileSync(
    path.join(dir, "bin/kind"),
    `#!/bin/sh\necho "kind $*" >> ${log}\n[ "$*" = "get clusters" ] && cat ${path.join(dir, "clusters")}\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(dir, "fakebin/make"),
    `#!/bin/sh\necho "make $*" >> ${log}\necho "Creating cluster..."\necho "Admin credentials: admin / s3cret-admin"\necho "done" >&2\n${leaveRunning}\nexit ${makeStatus}\n`,
    { mode: 0o755 },
  );
  const state = path.join(dir, "state");
  const run = (script: string, extra: Record<string, string> = {}) =>
    spawnSync("/bin/sh", ["-c", script], {
      cwd: dir,
      env: {
        PATH: `${path.join(dir, "fakebin")}:${process.env.PATH}`,
        HOME: dir,
        XDG_STATE_HOME: state,
        KIND_CLUSTER_NAME: "mcp-gateway",
        ...extra,
      },
      encoding: "utf8",
      timeout: 30_000,
    });
  const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);
  const stateFile = (f: string) => path.join(state, "mcp-gateway-stack/key", f);
  return { dir, run, calls, stateFile };
}

describe("the Kind cluster's scripts", () => {
  it("create a cluster that does not exist with make, printing only 'created', never the admin password", () => {
    const c = checkout(["other"]);
    const r = c.run(kindSetupScript("key", false));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("created\n");
    expect(r.stderr).toContain("Creating cluster...");
    expect(r.stderr).toContain("Admin credentials: (not shown by mcp-gateway-stack)");
    expect(r.stdout + r.stderr).not.toContain("s3cret-admin");
    expect(c.calls()).toEqual(["kind get clusters", "make local-env-setup"]);
    expect(fs.readFileSync(c.stateFile("made"), "utf8")).toBe("created\n");
    expect(fs.existsSync(c.stateFile("lock"))).toBe(false);
  });

  it("end with make, even when make leaves a process running (as Kind's daemons, or the test bed's API server)", () => {
    const c = checkout([], 0, "sleep 20 >/dev/null 2>&1 &");
    const t0 = Date.now();
    const r = c.run(kindSetupScript("key", false));
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("fail with make's status when make fails", () => {
    const c = checkout([], 2);
    const r = c.run(kindSetupScript("key", false));
    expect(r.status).toBe(2);
    expect(fs.existsSync(c.stateFile("made"))).toBe(false);
    expect(fs.existsSync(c.stateFile("lock"))).toBe(false);
  });

  it("refuse a cluster of that name the stack did not make, saying what to do, and touch nothing", () => {
    const c = checkout(["mcp-gateway"]);
    const r = c.run(kindSetupScript("key", false));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "a Kind cluster named mcp-gateway already exists and this stack did not create it: set cluster.name to another name, delete it (kind delete cluster --name mcp-gateway), or set cluster.adopt to true",
    );
    expect(c.calls()).toEqual(["kind get clusters"]);
  });

  it("adopt it when cluster.adopt asks, and then leave it on delete", () => {
    const c = checkout(["mcp-gateway"]);
    const r = c.run(kindSetupScript("key", true));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("adopted\n");
    const update = c.run(kindUpdateScript("key"), { PULUMI_COMMAND_STDOUT: "adopted" });
    expect(update.stdout).toBe("adopted\n");
    const down = c.run(kindTeardownScript("key"), { PULUMI_COMMAND_STDOUT: "adopted" });
    expect(down.status, down.stderr).toBe(0);
    expect(down.stderr).toContain("leaving Kind cluster mcp-gateway");
    expect(c.calls()).toEqual(["kind get clusters"]);
    expect(fs.existsSync(c.stateFile("made"))).toBe(false);
  });

  it("tear down a cluster the stack created", () => {
    const c = checkout();
    c.run(kindSetupScript("key", false));
    const down = c.run(kindTeardownScript("key"), { PULUMI_COMMAND_STDOUT: "created" });
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout + down.stderr).not.toContain("s3cret-admin");
    expect(c.calls()).toEqual(["kind get clusters", "make local-env-setup", "make local-env-teardown"]);
  });

  it("list the clusters kind knows, or undefined when no kind answers", () => {
    const c = checkout(["a", "mcp-gateway"]);
    expect(kindClusters([path.join(c.dir, "no-such-kind"), path.join(c.dir, "bin/kind")])).toEqual([
      "a",
      "mcp-gateway",
    ]);
    expect(kindClusters([path.join(c.dir, "no-such-kind")])).toBeUndefined();
  });
});

describe("a kubeconfig cut to one context", () => {
  const two = TWO_CONTEXTS;

  it("keeps the chosen context, its cluster and user, and makes it current", () => {
    const cut = parse(kubeconfigForContext(two, "prod"));
    expect(cut["current-context"]).toBe("prod");
    expect(cut.contexts).toEqual([{ name: "prod", context: { cluster: "prod-cluster", user: "prod-user" } }]);
    expect(cut.clusters.map((c: { name: string }) => c.name)).toEqual(["prod-cluster"]);
    expect(cut.users).toEqual([{ name: "prod-user", user: { token: "prod-token" } }]);
  });

  it("takes the current context when none is chosen, and leaves a kubeconfig that is already cut as it was", () => {
    const cut = kubeconfigForContext(two);
    expect(parse(cut).contexts.map((c: { name: string }) => c.name)).toEqual(["dev"]);
    expect(kubeconfigForContext(cut)).toBe(cut);
  });

  it("names the key, the context asked for and the contexts there are", () => {
    expect(() => kubeconfigForContext(two, "test", "cluster.kubeconfig")).toThrow(
      "cluster.kubeconfig: expected a kubeconfig with the context 'test', but its contexts are: dev, prod",
    );
    expect(() => kubeconfigForContext("apiVersion: v1\nkind: Config\n", undefined, "domains[0].kubeconfig")).toThrow(
      "domains[0].kubeconfig: expected a kubeconfig with a current-context, or cluster.context set (its contexts are: none)",
    );
    expect(() => kubeconfigForContext("/no/such/file", undefined, "cluster.kubeconfig")).toThrow(
      "cluster.kubeconfig: expected a kubeconfig (a YAML mapping)",
    );
  });
});

describe("the host-state key", () => {
  const where = { organization: "organization", project: "mcp-gateway-stack", stack: "dev" };

  it("differs for two checkouts of the project with a stack of the same name, and is stable for one", () => {
    const a = hostStateKey({ ...where, projectDir: "/home/u/a" }, "kubernetes-mcp-server");
    const b = hostStateKey({ ...where, projectDir: "/home/u/b" }, "kubernetes-mcp-server");
    expect(a).not.toBe(b);
    expect(hostStateKey({ ...where, projectDir: "/home/u/a/" }, "kubernetes-mcp-server")).toBe(a);
    expect(a).toMatch(/^organization\/mcp-gateway-stack\/dev\/[0-9a-f]{12}\/kubernetes-mcp-server$/);
  });

  it("differs for two organizations (two backends) with the same project and stack", () => {
    const a = hostStateKey({ ...where, projectDir: "/p" }, "x");
    const b = hostStateKey({ ...where, organization: "acme", projectDir: "/p" }, "x");
    expect(a).not.toBe(b);
  });
});
