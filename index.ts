import { loadStackConfig } from "./stacks/config";
import { buildStack } from "./stacks/stack";

const { outputs } = buildStack(loadStackConfig());

export const mcpGatewayUrl = outputs.mcpGatewayUrl;
export const toolPrefix = outputs.toolPrefix;
export const toolNames = outputs.toolNames;
export const inspectorCommand = outputs.inspectorCommand;
export const keycloakClientId = outputs.keycloakClientId;
