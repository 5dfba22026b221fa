// Responses the proxy writes itself: errors (400, 408, 502, 503, 504...), redirects
// and fixed responses from routes. Short text bodies that say what happened and
// never leak internals (no backend addresses, no stack traces).
import { STATUS_CODES } from "node:http";

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * The reason phrase for a status line: ours first (RFC 9110 wording), then Node's
 * table (418, 425...), else empty, which RFC 9112 allows ("HTTP/1.1 599 ") and which
 * says less that is wrong than a made-up "Unknown".
 */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? STATUS_CODES[status] ?? "";
}

/** The text body of a proxy-generated error: the reason and a short hint. */
const ERROR_TEXT: Record<number, string> = {
  400: "400 Bad Request: the request is malformed\n",
  408: "408 Request Timeout: the request head did not arrive in time\n",
  413: "413 Content Too Large: the request body exceeds the limit\n",
  414: "414 URI Too Long: the request line is too long\n",
  431: "431 Request Header Fields Too Large\n",
  501: "501 Not Implemented\n",
  502: "502 Bad Gateway: the backend sent an invalid response or closed the connection\n",
  503: "503 Service Unavailable: no backend is available\n",
  504: "504 Gateway Timeout: the backend did not respond in time\n",
  505: "505 HTTP Version Not Supported\n",
};

export function errorBody(status: number): string {
  const phrase = reasonPhrase(status);
  return ERROR_TEXT[status] ?? (phrase === "" ? `${status}\n` : `${status} ${phrase}\n`);
}

/**
 * Serialize a complete response. `keepAlive` false adds Connection: close; HTTP/1.0
 * clients that keep the connection get an explicit Connection: keep-alive. A HEAD
 * request gets the head only.
 */
export function buildResponse(
  status: number,
  headers: Record<string, string>,
  body: string,
  keepAlive: boolean,
  clientMinor = 1,
  headOnly = false,
): Buffer {
  const bodyBytes = Buffer.from(body, "utf8");
  let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  let hasType = false;
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    // Framing and connection are ours to set.
    if (lower === "content-length" || lower === "transfer-encoding" || lower === "connection") continue;
    if (lower === "content-type") hasType = true;
    head += `${k}: ${v}\r\n`;
  }
  if (!hasType && bodyBytes.length > 0) head += "Content-Type: text/plain; charset=utf-8\r\n";
  head += `Content-Length: ${bodyBytes.length}\r\n`;
  if (!keepAlive) head += "Connection: close\r\n";
  else if (clientMinor === 0) head += "Connection: keep-alive\r\n";
  head += "\r\n";
  if (headOnly || bodyBytes.length === 0) return Buffer.from(head, "latin1");
  return Buffer.concat([Buffer.from(head, "latin1"), bodyBytes]);
}

export function errorResponse(status: number): Buffer {
  return buildResponse(status, {}, errorBody(status), false);
}
