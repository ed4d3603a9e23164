import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { tokenExchangeSetupScript } from "../../components/tokenExchangeSetup";

// The setup step's script run for real, with a stand-in `make` that records what it was given.
const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-make-"));
const record = path.join(bin, "record");
fs.writeFileSync(
  path.join(bin, "make"),
  `#!/bin/sh\n{ echo "args=$*"; echo "kubeconfig=$KUBECONFIG"; stat -c %a "$KUBECONFIG"; cat "$KUBECONFIG"; } > "${record}"\n`,
  { mode: 0o755 },
);
const run = (kubeconfig: string) =>
  spawnSync("bash", ["-c", tokenExchangeSetupScript("oauth-token-exchange-example-setup")], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, STACK_KUBECONFIG: kubeconfig },
    encoding: "utf8",
  });

describe("the token-exchange setup step", () => {
  it("runs the gateway's make target against kubeconfig contents written to a private file it removes", () => {
    expect(run("apiVersion: v1\nkind: Config\n").status).toBe(0);
    const [args, kubeconfig, mode, ...content] = fs.readFileSync(record, "utf8").trim().split("\n");
    expect(args).toBe("args=tools oauth-token-exchange-example-setup");
    expect(mode).toBe("600");
    expect(content.join("\n")).toBe("apiVersion: v1\nkind: Config");
    expect(fs.existsSync(kubeconfig.replace("kubeconfig=", ""))).toBe(false);
  });
});
