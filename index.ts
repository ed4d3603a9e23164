import { loadStackConfig } from "./stacks/config";
import { assertPreflight } from "./stacks/preflight";
import { buildStack } from "./stacks/stack";

// Stack outputs: mcpGatewayUrl, toolPrefix, toolNames, inspectorCommand, and for oidc keycloakClientId.
// `export =` so an output the use case does not have is absent rather than undefined.
const config = loadStackConfig();
export = assertPreflight(config).then(() => buildStack(config).outputs);
