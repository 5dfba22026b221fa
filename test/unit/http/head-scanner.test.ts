// The scanner's size limits sit exactly at their boundary whatever way the head is
// split into chunks (it checks a line's ordinary bytes as one run, not byte by byte).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HeadScanner } from "../../../src/dataplane/proxy/http/head-scanner.ts";
import { REQUEST_SCAN_ERRORS } from "../../../src/dataplane/proxy/http/parse.ts";
import { HttpParseError } from "../../../src/dataplane/proxy/http/syntax.ts";

const LIMITS = { maxStartLine: 40, maxHeaderBytes: 60, maxHeaders: 10 };

/** Feed `text` cut at `cut` (0 = one chunk): the head's end offset, or the error's code. */
function scan(text: string, cut: number): number | string {
  const bytes = Buffer.from(text, "latin1");
  const scanner = new HeadScanner(LIMITS, REQUEST_SCAN_ERRORS, true);
  try {
    if (cut > 0) {
      const first = scanner.feed(bytes.subarray(0, cut), 0);
      if (first >= 0) return first;
      const second = scanner.feed(bytes.subarray(cut), 0);
      return second < 0 ? -1 : cut + second;
    }
    return scanner.feed(bytes, 0);
  } catch (err) {
    assert.ok(err instanceof HttpParseError);
    return err.code;
  }
}

/** Same outcome at every split point; returns it. */
function scanEverySplit(text: string): number | string {
  const whole = scan(text, 0);
  for (let cut = 1; cut < text.length; cut++) assert.equal(scan(text, cut), whole, `cut at ${cut}`);
  return whole;
}

describe("head scanner: limits at their boundary", () => {
  const line = (len: number) => `GET /${"a".repeat(len - 14)} HTTP/1.1`; // 14 = "GET /" + " HTTP/1.1"

  test("a start line of exactly maxStartLine bytes is accepted", () => {
    const text = `${line(40)}\r\nHost: h\r\n\r\n`;
    assert.equal(line(40).length, 40);
    assert.equal(scanEverySplit(text), text.length);
  });
  test("a start line one byte over maxStartLine is refused", () => {
    assert.equal(scanEverySplit(`${line(41)}\r\nHost: h\r\n\r\n`), "start-line-too-long");
  });
  test("a start line over the limit is refused before its line ends", () => {
    assert.equal(scanEverySplit(line(41)), "start-line-too-long");
  });

  // Header bytes: the earlier field lines with their CRLF ("Host: h\r\n" is 9) plus
  // the current line's bytes so far.
  const fields = (valueLen: number) => `Host: h\r\nX: ${"v".repeat(valueLen)}\r\n`;
  test("a header section of exactly maxHeaderBytes is accepted", () => {
    assert.equal(fields(48).length - 2, 60);
    const text = `GET / HTTP/1.1\r\n${fields(48)}\r\n`;
    assert.equal(scanEverySplit(text), text.length);
  });
  test("a header section one byte over maxHeaderBytes is refused", () => {
    assert.equal(scanEverySplit(`GET / HTTP/1.1\r\n${fields(49)}\r\n`), "headers-too-large");
  });
  test("a bare LF inside a long run of ordinary bytes is still refused", () => {
    assert.equal(scanEverySplit("GET /abc\ndef HTTP/1.1\r\n\r\n"), "bare-lf");
  });
  test("a bare CR inside a line is still refused", () => {
    assert.equal(scanEverySplit("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), "bare-cr");
  });
});
