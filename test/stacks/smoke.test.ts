import { expect, it } from "vitest";
import { runStack, oidcValues } from "../support/pulumiHarness";

it("smoke", async () => {
  const run = await runStack(oidcValues());
  console.log(run.resources.filter(r=>!r.type.startsWith("keycloak:index/role")).map((r) => `${r.type} ${r.name} parent=${r.parent.split("::").pop()} prov=${r.provider.split("::").slice(-2).join("::")} deps=${r.dependencies.map(d=>d.split("::").pop()).join(",")}`).join("\n"));
  expect(run.resources.length).toBeGreaterThan(0);
});
