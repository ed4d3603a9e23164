/**
 * The kubernetes-mcp-server tools the guide grants through Keycloak, one client role each.
 *
 * The gateway sets `x-mcp-toolname` to the tool name WITHOUT the MCPServer's toolPrefix,
 * so these names are also the Keycloak role names.
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

/**
 * Every tool name a role may be made for: the guide's tools plus those newer
 * kubernetes-mcp-server releases serve (`resources_scale` since 0.0.66; `projects_list` on OpenShift).
 */
export const KNOWN_TOOLS: readonly string[] = [...GUIDE_TOOLS, "resources_scale", "projects_list"].sort();

/** The toolsets that serve the guide's tools (the server's default is only `core,config`). */
export const GUIDE_TOOLSETS = ["core", "config", "helm"] as const;
export const KNOWN_TOOLSETS: readonly string[] = [
  "config",
  "core",
  "helm",
  "kcp",
  "kiali",
  "kubevirt",
  "netobserv",
  "tekton",
];
