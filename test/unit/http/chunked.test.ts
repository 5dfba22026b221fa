import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChunkedDecoder } from "../../../src/dataplane/proxy/http/chunked.ts";
import { HttpParseError } from "../../../src/dataplane/proxy/http/syntax.ts";

/** Feed the whole input; returns the end offset or the error code. */
function run(text: string): number | string {
  const d = new ChunkedDecoder({ maxSizeLine: 64, maxTrailerBytes: 64 });
  try {
    return d.feed(Buffer.from(text, "latin1"));
  } catch (err) {
    assert.ok(err instanceof HttpParseError);
    assert.equal(err.status, 400);
    return err.code;
  }
}

describe("chunked decoder: valid bodies end at the right byte", () => {
  const table: [string, string][] = [
    ["one chunk", "5\r\nhello\r\n0\r\n\r\n"],
    ["two chunks", "5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"],
    ["empty body", "0\r\n\r\n"],
    ["uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n"],
    ["lowercase hex", "a\r\n0123456789\r\n0\r\n\r\n"],
    ["leading zeros", "0005\r\nhello\r\n0\r\n\r\n"],
    ["extension without value", "5;ext\r\nhello\r\n0\r\n\r\n"],
    ["extension with token value", "5;a=b\r\nhello\r\n0;last\r\n\r\n"],
    ["extension with quoted value", '5;a="b c;d"\r\nhello\r\n0\r\n\r\n'],
    ["extensions with BWS", "5 ; a = b ;c\r\nhello\r\n0\r\n\r\n"],
    ["trailers", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n"],
    ["data containing CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n"],
  ];
  for (const [name, body] of table) {
    test(`accepts ${name}`, () => {
      assert.equal(run(body + "NEXT"), body.length);
    });
  }
  test("every split point gives the same end and data byte count", () => {
    const body = '3;x="y"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n';
    const bytes = Buffer.from(body + "GET");
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new ChunkedDecoder();
      const first = d.feed(bytes, 0, cut);
      const end = first >= 0 ? first : d.feed(bytes, cut);
      assert.equal(end, body.length, `cut ${cut}`);
      assert.equal(d.dataBytes, 19);
      assert.equal(d.done, true);
    }
  });
  test("an unfinished body reports -1 and is not done", () => {
    const d = new ChunkedDecoder();
    assert.equal(d.feed(Buffer.from("5\r\nhel")), -1);
    assert.equal(d.done, false);
  });
});

describe("chunked decoder: malformed framing is refused", () => {
  const table: [string, string, string][] = [
    ["empty size", "\r\nhello\r\n0\r\n\r\n", "bad-chunk-size"],
    ["non-hex size", "g\r\n", "bad-chunk-size"],
    ["0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "bad-chunk-size"],
    ["negative size", "-5\r\n", "bad-chunk-size"],
    ["leading space before size", " 5\r\nhello\r\n0\r\n\r\n", "bad-chunk-size"],
    ["trailing space after size without extension", "5 \r\nhello\r\n0\r\n\r\n", "bad-chunk-extension"],
    ["size overflowing 2^48", "1000000000001\r\n", "chunk-size-too-large"],
    ["bare LF after size", "5\nhello\r\n0\r\n\r\n", "bad-chunk-size"],
    ["bare CR after size", "5\rhello\r\n0\r\n\r\n", "bare-cr"],
    ["bare LF in extension", "5;a\nhello\r\n0\r\n\r\n", "bare-lf"],
    ["malformed extension", "5;=b\r\nhello\r\n0\r\n\r\n", "bad-chunk-extension"],
    ["unterminated quoted extension", '5;a="b\r\nhello\r\n0\r\n\r\n', "bad-chunk-extension"],
    ["data longer than size", "3\r\nhello\r\n0\r\n\r\n", "missing-chunk-crlf"],
    ["missing CRLF after data", "5\r\nhello0\r\n\r\n", "missing-chunk-crlf"],
    ["LF only after data", "5\r\nhello\n0\r\n\r\n", "missing-chunk-crlf"],
    ["CR without LF after data", "5\r\nhello\rX0\r\n\r\n", "missing-chunk-crlf"],
    ["size line too long", `5;${"a".repeat(80)}\r\n`, "chunk-line-too-long"],
    ["malformed trailer", "0\r\nNoColon\r\n\r\n", "bad-trailer"],
    ["trailer with space before colon", "0\r\nX-A : 1\r\n\r\n", "bad-trailer"],
    ["folded trailer", "0\r\nX-A: 1\r\n 2\r\n\r\n", "obs-fold"],
    ["bare LF in trailers", "0\r\nX-A: 1\n\r\n", "bare-lf"],
    ["bare LF as final line", "0\r\n\n", "bare-lf"],
    ["trailers too large", `0\r\nX: ${"v".repeat(80)}\r\n\r\n`, "trailers-too-large"],
  ];
  for (const [name, body, code] of table) {
    test(`refuses ${name}`, () => {
      assert.equal(run(body), code);
    });
  }
});
