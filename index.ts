import { loadStackConfig } from "./stacks/config";
import { buildStack } from "./stacks/stack";

// Stack outputs: mcpGatewayUrl, toolPrefix, toolNames, inspectorCommand, and for oidc keycloakClientId.
// `export =` so an output the use case does not have is absent rather than undefined.
export = buildStack(loadStackConfig()).outputs;
