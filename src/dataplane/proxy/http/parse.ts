// One-shot helpers over HeadScanner + parseRequestHead/parseResponseHead, for
// callers that hold a whole head in memory (tests, health checks, tools).
import { DEFAULT_HEAD_LIMITS, type HeadLimits, HeadScanner } from "./head-scanner.ts";
import { parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from "./message-head.ts";
import { HttpParseError } from "./syntax.ts";

export const REQUEST_SCAN_ERRORS = { malformedStatus: 400, startLineStatus: 414, headerStatus: 431 };
export const RESPONSE_SCAN_ERRORS = { malformedStatus: 502, startLineStatus: 502, headerStatus: 502 };

/** Parse a request from bytes; returns the head and where its body starts. */
export function parseRequest(
  bytes: Buffer,
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
): { head: RequestHead; bodyStart: number } {
  const scanner = new HeadScanner(limits, REQUEST_SCAN_ERRORS, true);
  const end = scanner.feed(bytes, 0);
  if (end < 0) throw new HttpParseError("incomplete", 400, "incomplete request head");
  return { head: parseRequestHead(scanner.take()), bodyStart: end };
}

/** Parse a response from bytes; returns the head and where its body starts. */
export function parseResponse(
  bytes: Buffer,
  requestMethod = "GET",
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
): { head: ResponseHead; bodyStart: number } {
  const scanner = new HeadScanner(limits, RESPONSE_SCAN_ERRORS, false);
  const end = scanner.feed(bytes, 0);
  if (end < 0) throw new HttpParseError("incomplete", 502, "incomplete response head");
  return { head: parseResponseHead(scanner.take(), requestMethod), bodyStart: end };
}
