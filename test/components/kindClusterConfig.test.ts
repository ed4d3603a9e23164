import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  KIND_GET_KUBECONFIG,
  kindCreateScript,
  kindDeleteScript,
  kindOidcConfig,
  NODE_KEYCLOAK_CA,
} from "../../components/kindClusterConfig";

const ISSUER = "https://keycloak.127-0-0-1.sslip.io:8002/realms/cluster-b";

describe("a further cluster's Kind config", () => {
  const config = parse(
    kindOidcConfig({ issuerUrl: ISSUER, clientId: "mcp-test/kubernetes-mcp-b", caHostPath: "/state/keycloak-ca.crt" }),
  );

  it("gives its API server the gateway Kind config's OIDC flags, for realm b and b's server", () => {
    expect(config).toMatchObject({ kind: "Cluster", apiVersion: "kind.x-k8s.io/v1alpha4" });
    expect(config.nodes).toHaveLength(1);
    const patches = config.nodes[0].kubeadmConfigPatches.map((p: string) => parse(p));
    expect(patches).toEqual([
      {
        kind: "ClusterConfiguration",
        apiServer: {
          extraArgs: {
            "oidc-issuer-url": ISSUER,
            "oidc-client-id": "mcp-test/kubernetes-mcp-b",
            // As config/kind/cluster.yaml: no username prefix flag, so users are <issuer>#<username>.
            "oidc-username-claim": "preferred_username",
            "oidc-groups-claim": "groups",
            "oidc-ca-file": NODE_KEYCLOAK_CA,
          },
        },
      },
    ]);
  });

  it("mounts the CA file into the node where the flag names it, and maps no host port (the gateway's cluster has 8001, 8002)", () => {
    expect(config.nodes[0]).toMatchObject({
      role: "control-plane",
      extraMounts: [{ hostPath: "/state/keycloak-ca.crt", containerPath: NODE_KEYCLOAK_CA, readOnly: true }],
    });
    expect(config.nodes[0].extraPortMappings).toBeUndefined();
  });
});

// The scripts, run with /bin/sh (as the command provider runs them) with fake kind and docker that
// log their arguments.
function host(dockerStatus = 0) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kind-direct-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const log = path.join(dir, "calls.log");
  for (const [tool, status] of [
    ["kind", 0],
    ["docker", dockerStatus],
  ] as const) {
    fs.writeFileSync(
      path.join(bin, tool),
      `#!/bin/sh\necho "${tool} $*" >> ${log}\n[ "$1 $2" = "get kubeconfig" ] && echo "kubeconfig of $4"\nexit ${status}\n`,
      { mode: 0o755 },
    );
  }
  const state = path.join(dir, "state");
  const run = (script: string, extra: Record<string, string> = {}) =>
    spawnSync("/bin/sh", ["-c", script], {
      cwd: dir,
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: dir,
        XDG_STATE_HOME: state,
        KIND_CLUSTER_NAME: "mcp-b",
        MCP_KIND_CONFIG: "kind: Cluster",
        MCP_KEYCLOAK_CA: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----",
        ...extra,
      },
      encoding: "utf8",
      timeout: 30_000,
    });
  const stateDir = path.join(state, "mcp-gateway-stack/key");
  const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);
  return { run, calls, stateDir };
}

describe("a further cluster's Kind scripts", () => {
  it("create the cluster with kind and the written config, after writing the CA it mounts", () => {
    const h = host();
    const r = h.run(kindCreateScript("key"));
    expect(r.status, r.stderr).toBe(0);
    const config = path.join(h.stateDir, "kind-config.yaml");
    expect(h.calls()).toEqual([`kind create cluster --name mcp-b --config ${config}`]);
    expect(fs.readFileSync(config, "utf8")).toBe("kind: Cluster\n");
    expect(fs.readFileSync(path.join(h.stateDir, "keycloak-ca.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
    expect(fs.readFileSync(path.join(h.stateDir, "made"), "utf8")).toBe("created\n");
  });

  it("add the hosts line to the node's /etc/hosts, and delete the cluster again when that fails", () => {
    const ok = host();
    const hosts = { MCP_NODE_HOSTS: "172.18.255.200 keycloak.127-0-0-1.sslip.io" };
    expect(ok.run(kindCreateScript("key"), hosts).status).toBe(0);
    expect(ok.calls()[1]).toMatch(
      /^docker exec mcp-b-control-plane sh -c .*\/etc\/hosts.* sh 172\.18\.255\.200 keycloak\.127-0-0-1\.sslip\.io$/,
    );
    const failing = host(1);
    const r = failing.run(kindCreateScript("key"), hosts);
    expect(r.status).toBe(1);
    expect(failing.calls().at(-1)).toBe("kind delete cluster --name mcp-b");
    expect(r.stderr).toContain("deleting Kind cluster mcp-b again");
  });

  it("delete the cluster with kind and remove what the create wrote", () => {
    const h = host();
    expect(h.run(kindCreateScript("key")).status).toBe(0);
    const r = h.run(kindDeleteScript("key"));
    expect(r.status, r.stderr).toBe(0);
    expect(h.calls().at(-1)).toBe("kind delete cluster --name mcp-b");
    expect(fs.readdirSync(h.stateDir)).toEqual([]);
  });

  it("read the kubeconfig from kind", () => {
    const h = host();
    const r = h.run(KIND_GET_KUBECONFIG);
    expect(r.stdout).toBe("kubeconfig of mcp-b\n");
    expect(h.calls()).toEqual(["kind get kubeconfig --name mcp-b"]);
  });
});
