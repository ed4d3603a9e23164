import { SERVER_TOOLS } from "./serverTools.generated";

/**
 * The kubernetes-mcp-server tools the guide grants through Keycloak, one client role each.
 *
 * The gateway sets `x-mcp-toolname` to the tool name WITHOUT the MCPServer's toolPrefix,
 * so these names are also the Keycloak role names. The pinned server serves more with these
 * toolsets (`resources_scale` since 0.0.66, `projects_list` on OpenShift; see
 * serverTools.generated.ts); the default grants the guide's set, which is also what the realm
 * imports of later gateway commits hold.
 */
export const GUIDE_TOOLS = [
  "configuration_contexts_list",
  "configuration_view",
  "events_list",
  "helm_install",
  "helm_list",
  "helm_uninstall",
  "namespaces_list",
  "nodes_log",
  "nodes_stats_summary",
  "nodes_top",
  "pods_delete",
  "pods_exec",
  "pods_get",
  "pods_list",
  "pods_list_in_namespace",
  "pods_log",
  "pods_run",
  "pods_top",
  "resources_create_or_update",
  "resources_delete",
  "resources_get",
  "resources_list",
] as const;

/** Every tool the pinned server serves in some toolset: the names a role may be made for. */
export const KNOWN_TOOLS: readonly string[] = [...new Set(Object.values(SERVER_TOOLS).flat())].sort();

/** The toolsets that serve the guide's tools (the server's default is only `core,config`). */
export const GUIDE_TOOLSETS = ["core", "config", "helm"] as const;
export const KNOWN_TOOLSETS: readonly string[] = Object.keys(SERVER_TOOLS).sort();

/** The toolsets whose tools include `tool`. */
export const toolsetsServing = (tool: string): string[] =>
  Object.entries(SERVER_TOOLS)
    .filter(([, tools]) => tools.includes(tool))
    .map(([toolset]) => toolset);
