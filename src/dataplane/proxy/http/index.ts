// The L7 (HTTP/1.1) dataplane's public surface.
import type { DesiredFrontend } from "../../../model/desired.ts";
import { HttpListener, type HttpListenerOptions } from "./listener.ts";

export type { HttpCounters, HttpListenerOptions } from "./listener.ts";
export { HttpListener } from "./listener.ts";
export { HttpParseError } from "./syntax.ts";

/** Build the FrontendListener of an http frontend (call start() to bind). */
export function createHttpListener(frontend: DesiredFrontend, opts: HttpListenerOptions = {}): HttpListener {
  return new HttpListener(frontend, opts);
}
