import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";

export interface GatewayCheckoutArgs {
  /** Git URL of the MCP Gateway repository. */
  repoUrl: string;
  /** Pinned commit (or tag) whose make targets the stack runs. */
  ref: string;
  /** Directory of the checkout, relative to the Pulumi project or absolute. */
  dir: string;
}

/**
 * Clones the checkout when the directory is missing, then checks out the pinned ref.
 * Git's chatter goes to stderr so stdout is exactly the checkout's absolute path.
 */
export const checkoutScript = `set -eu
if [ ! -d "$GATEWAY_DIR/.git" ]; then
  git clone --quiet -- "$GATEWAY_REPO" "$GATEWAY_DIR" >&2
fi
if ! git -C "$GATEWAY_DIR" rev-parse --quiet --verify --end-of-options "$GATEWAY_REF^{commit}" >/dev/null; then
  git -C "$GATEWAY_DIR" fetch --quiet --tags origin >&2
fi
# Resolved first, so the ref can never be read as an option of checkout.
commit=$(git -C "$GATEWAY_DIR" rev-parse --verify --end-of-options "$GATEWAY_REF^{commit}")
git -C "$GATEWAY_DIR" -c advice.detachedHead=false checkout --quiet --detach "$commit" >&2
cd "$GATEWAY_DIR" && pwd -P
`;

/**
 * A checkout of the MCP Gateway repository at a pinned commit: the tooling (Makefile, kind,
 * manifests) that creates the local cluster and the OAuth token-exchange example.
 * Destroy leaves the checkout in place: it holds the tools the teardown itself runs.
 */
export class GatewayCheckout extends pulumi.ComponentResource {
  /** Absolute path of the checkout; a make step that uses it depends on the checkout. */
  public readonly dir: pulumi.Output<string>;

  constructor(name: string, args: GatewayCheckoutArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:gateway:Checkout", name, {}, opts);
    const clone = new command.local.Command(
      `${name}-git`,
      {
        create: checkoutScript,
        environment: { GATEWAY_REPO: args.repoUrl, GATEWAY_REF: args.ref, GATEWAY_DIR: args.dir },
      },
      childOptions(this, opts),
    );
    this.dir = clone.stdout.apply((out) => out.trim());
    this.registerOutputs({ dir: this.dir });
  }
}
