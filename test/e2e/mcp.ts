/** A minimal MCP client over streamable HTTP: enough to list a server's tools and call one. */
async function rpc(url: string, method: string, params: unknown, session?: string, token?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(session ? { "mcp-session-id": session } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const text = await res.text();
  // Either a JSON body or one SSE event whose data is the JSON-RPC response.
  const data = text.startsWith("{") ? text : (text.match(/^data: (.*)$/m)?.[1] ?? "{}");
  return { status: res.status, session: res.headers.get("mcp-session-id") ?? session, body: JSON.parse(data) };
}

export async function mcpSession(url: string, token?: string) {
  const init = await rpc(
    url,
    "initialize",
    { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "e2e", version: "1" } },
    undefined,
    token,
  );
  if (init.status !== 200) throw new Error(`MCP initialize at ${url}: HTTP ${init.status}`);
  const session = init.session ?? undefined;
  return {
    async toolNames(): Promise<string[]> {
      const { body } = await rpc(url, "tools/list", {}, session, token);
      return (body.result?.tools ?? []).map((t: { name: string }) => t.name).sort();
    },
    async call(name: string, args: Record<string, unknown> = {}) {
      const { body } = await rpc(url, "tools/call", { name, arguments: args }, session, token);
      return body as { result?: { content: Array<{ text?: string }>; isError?: boolean }; error?: unknown };
    },
  };
}
