import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import { basicCredentials, CHAIN_SECRET_KEY } from "./domainChain";
import type { KeycloakAdmin } from "./keycloakProvider";

/** The realm import's confidential client the AuthPolicies' token exchange authenticates as. */
export const GATEWAY_CLIENT_ID = "mcp-gateway";

/** How the Command runs the script: `node` reading it from stdin (ESM), so no file has to be found. */
export const REGENERATE_COMMAND = "node --input-type=module";

/** components/gatewayClientSecret/regenerate.mjs: asks Keycloak for a new client secret, prints it. */
export const regenerateSecretScript = fs.readFileSync(
  path.join(__dirname, "gatewayClientSecret", "regenerate.mjs"),
  "utf8",
);

/**
 * The `data` of the token-exchange Secret: the key Authorino reads, holding what it sends after
 * `Basic ` (bare base64 of `id:secret`, as upstream's sample), base64-encoded once more as `data` is.
 */
export function tokenExchangeSecretData(clientId: string, clientSecret: string): Record<string, string> {
  return { [CHAIN_SECRET_KEY]: Buffer.from(basicCredentials(clientId, clientSecret)).toString("base64") };
}

/** The script's settings: Keycloak's admin API as the stack's provider reaches it. */
export function regenerateEnvironment(admin: KeycloakAdmin, realm: string): Record<string, pulumi.Input<string>> {
  return {
    KEYCLOAK_URL: admin.url,
    KEYCLOAK_REALM: realm,
    KEYCLOAK_CLIENT_ID: GATEWAY_CLIENT_ID,
    KEYCLOAK_ADMIN_USER: admin.adminUser,
    KEYCLOAK_ADMIN_PASSWORD: pulumi.secret(admin.adminPassword),
    KEYCLOAK_TLS_INSECURE: String(admin.tlsInsecureSkipVerify),
    ...(admin.rootCaCertificate ? { KEYCLOAK_CA: admin.rootCaCertificate } : {}),
  };
}

export interface GatewayClientSecretArgs {
  /** Keycloak's admin API (the stack's keycloak config). */
  admin: KeycloakAdmin;
  realm: string;
  /**
   * The make step that applied upstream's Secret with the well-known `mcp-gateway:secret`. When it
   * runs again it writes that value back, so a change of its inputs generates a new secret.
   */
  setup: command.local.Command;
  /** The Secret that step made and every AuthPolicy's exchange reads. */
  secretNamespace: string;
  secretName: string;
}

/**
 * The realm's `mcp-gateway` client gets a secret only Keycloak and this stack know, instead of the
 * realm import's well-known `secret`, and the token-exchange Secret gets it too: the stack's
 * AuthPolicy and upstream's gateway-level ones read that Secret, so all keep working.
 *
 * Destroy keeps both (README, "What stays"): the key is retained in the Secret, whose deletion by
 * the patch would break upstream's policies, and restoring `secret` in Keycloak would bring back
 * the credential everyone knows.
 */
export class GatewayClientSecret extends pulumi.ComponentResource {
  public readonly regenerate: command.local.Command;
  public readonly patch: k8s.core.v1.SecretPatch;

  constructor(name: string, args: GatewayClientSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:keycloak:GatewayClientSecret", name, {}, opts);
    const setup = args.setup;
    this.regenerate = new command.local.Command(
      `${name}-regenerate`,
      {
        create: REGENERATE_COMMAND,
        stdin: regenerateSecretScript,
        environment: regenerateEnvironment(args.admin, args.realm),
        // The secret is stdout: never logged, never handed to a later run's environment.
        logging: "stderr",
        addPreviousOutputInEnv: false,
        triggers: [setup.dir, setup.create, setup.environment],
      },
      childOptions(this, opts, { additionalSecretOutputs: ["stdout"] }),
    );
    this.patch = new k8s.core.v1.SecretPatch(
      `${name}-token-exchange`,
      {
        metadata: {
          name: args.secretName,
          namespace: args.secretNamespace,
          // The make target's kubectl owns the key: take that one field over.
          annotations: { "pulumi.com/patchForce": "true" },
        },
        data: pulumi.secret(this.regenerate.stdout).apply((s) => tokenExchangeSecretData(GATEWAY_CLIENT_ID, s)),
      },
      childOptions(this, opts, { retainOnDelete: true }),
    );
    this.registerOutputs({});
  }
}
