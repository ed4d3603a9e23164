import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** What a tool call came back with: the text of its content, and whether the server flagged an error. */
export interface ToolResult {
  isError: boolean;
  text: string;
}

/**
 * An MCP session over streamable HTTP with the official TypeScript SDK, as the gateway's broker or
 * an MCP client would open one; `token` is sent as `Authorization: Bearer`, on every request.
 */
export async function mcpSession(url: string, token?: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
  });
  const client = new Client({ name: "mcp-gateway-stack-e2e", version: "1" });
  try {
    await client.connect(transport);
  } catch (err) {
    throw new Error(`MCP initialize at ${url} failed: ${(err as Error).message}`);
  }
  return {
    async toolNames(): Promise<string[]> {
      return (await client.listTools()).tools.map((t) => t.name).sort();
    },
    /** A protocol error (the SDK throws McpError) counts as an error result, with its message. */
    async call(name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
      try {
        const result = await client.callTool({ name, arguments: args });
        const content = (result.content ?? []) as Array<{ text?: string }>;
        return { isError: result.isError === true, text: content.map((c) => c.text ?? "").join("\n") };
      } catch (err) {
        return { isError: true, text: (err as Error).message };
      }
    },
    close: () => client.close(),
  };
}

/** The tool names a server lists, in a session of their own. */
export async function listTools(url: string, token?: string): Promise<string[]> {
  const session = await mcpSession(url, token);
  try {
    return await session.toolNames();
  } finally {
    await session.close();
  }
}

/** One `tools/call`, in a session of its own. */
export async function callTool(url: string, name: string, token?: string): Promise<ToolResult> {
  const session = await mcpSession(url, token);
  try {
    return await session.call(name);
  } finally {
    await session.close();
  }
}
