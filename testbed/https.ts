/** The test bed's HTTPS client (the API server, Keycloak). */
import * as https from "node:https";

/** A small JSON client of an HTTPS API (the API server, Keycloak) trusting one CA. */
export class Api {
  constructor(
    readonly base: string,
    private readonly ca: Buffer,
    /** The Authorization header's value, if any. */
    private authorization?: string,
  ) {}

  withToken(token: string): Api {
    return new Api(this.base, this.ca, `Bearer ${token}`);
  }

  /** The same API with another Authorization header (`Basic ...` for an OAuth client). */
  withAuthorization(value: string): Api {
    return new Api(this.base, this.ca, value);
  }

  request(
    method: string,
    apiPath: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; json: any; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const req = https.request(
        new URL(apiPath, this.base),
        {
          method,
          ca: this.ca,
          headers: {
            ...(this.authorization ? { authorization: this.authorization } : {}),
            "content-type": contentType,
          },
        },
        (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => {
            let json: any = {};
            try {
              json = text ? JSON.parse(text) : {};
            } catch {
              json = {};
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  get(apiPath: string) {
    return this.request("GET", apiPath);
  }

  /** A form POST (OAuth token endpoints). */
  form(apiPath: string, fields: Record<string, string>) {
    return this.request("POST", apiPath, new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded");
  }
}

/**
 * Closes the idle keep-alive sockets of https.globalAgent (Api's) to `url`'s server after a restart:
 * the old process closed them, but a synchronous restart gives the event loop no turn to notice, so
 * the next request would go out on a dead one ("socket hang up").
 */
export function dropIdleSockets(url: string): void {
  const host = new URL(url).host; // the agent names sockets "host:port:..."
  for (const [name, sockets] of Object.entries(https.globalAgent.freeSockets))
    if (name.startsWith(`${host}:`)) for (const s of sockets ?? []) s.destroy();
}
