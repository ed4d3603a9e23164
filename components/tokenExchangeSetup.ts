import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";

export interface TokenExchangeSetupArgs {
  /** The gateway checkout the make target runs in. */
  dir: pulumi.Input<string>;
  /** The gateway release's make target (components/gatewayRelease.ts). */
  makeTarget: string;
  /** Kubeconfig contents of the stack's cluster (a secret). */
  kubeconfig: pulumi.Input<string>;
}

// The make target runs kubectl: give it the stack's cluster (the kubeconfig's contents, see
// GatewayCluster) in a private temp file. `make tools` first: on an existing cluster nothing
// has installed the checkout's bin/kustomize and bin/yq yet (it skips tools already there).
export const tokenExchangeSetupScript = (makeTarget: string) => `set -eu
KUBECONFIG="$(mktemp)"; export KUBECONFIG
trap 'rm -f "$KUBECONFIG"' EXIT
printf '%s\\n' "$STACK_KUBECONFIG" > "$KUBECONFIG"
make tools ${makeTarget} >&2
`;

/**
 * The gateway's token-exchange example, installed by its make target: the OAuth settings of the
 * broker and the `token-exchange` Secret the AuthPolicy's exchange reads. The target has no
 * teardown upstream, so destroy leaves what it did (README, "What stays").
 */
export class TokenExchangeSetup extends pulumi.ComponentResource {
  public readonly step: command.local.Command;

  constructor(name: string, args: TokenExchangeSetupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:gateway:TokenExchangeSetup", name, {}, opts);
    this.step = new command.local.Command(
      `${name}-setup`,
      {
        dir: args.dir,
        create: tokenExchangeSetupScript(args.makeTarget),
        environment: { STACK_KUBECONFIG: args.kubeconfig },
        logging: "stderr",
      },
      // Declared at the stack's top level before this component existed: the alias keeps its state.
      childOptions(this, opts, { aliases: [{ parent: pulumi.rootStackResource }] }),
    );
    this.registerOutputs({});
  }
}
