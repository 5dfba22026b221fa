// The byte-level helpers of the heads forwarded from their bytes (wire.ts), as truth tables.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bytesAre,
  canonicalLine,
  copyBytes,
  copyKept,
  digitsValue,
  droppedLength,
  fieldLine,
} from "../../../src/dataplane/proxy/http/wire.ts";

const latin1 = (s: string) => Buffer.from(s, "latin1");

describe("wire.ts", () => {
  test("canonicalLine: which lines are canonical, and where their parts are", () => {
    const rows: [string, [string, string] | null][] = [
      ["Host: h\r\n", ["Host", "h"]],
      ["X-Empty: \r\n", ["X-Empty", ""]],
      ["Date: Sun, 22 Nov 2026\r\n", ["Date", "Sun, 22 Nov 2026"]],
      ["X: caf\xe9\r\n", ["X", "caf\xe9"]],
      ["X:v\r\n", null], // no space
      ["X:  v\r\n", null], // two spaces
      ["X:\tv\r\n", null], // a tab instead of the space
      ["X: v \r\n", null], // trailing whitespace
      ["X: v\t\r\n", null],
      ["X : v\r\n", null], // space before the colon
      [": v\r\n", null], // no name
      ["X: a\x00b\r\n", null], // a control byte
      ["X: v\n", null], // bare LF
      ["X: v\r", null], // CR at the end of the input
      [" X: v\r\n", null], // obs-fold
    ];
    for (const [line, parts] of rows) {
      const head = latin1(`${line}\r\n`);
      const next = canonicalLine(head, 0, head.length - 2);
      if (parts === null) {
        assert.equal(next, -1, JSON.stringify(line));
        continue;
      }
      assert.equal(next, line.length, JSON.stringify(line));
      const { nameEnd, valueStart, valueEnd } = fieldLine;
      assert.deepEqual(
        [head.toString("latin1", 0, nameEnd), head.toString("latin1", valueStart, valueEnd)],
        parts,
        JSON.stringify(line),
      );
    }
  });

  test("bytesAre: case-insensitive for letters only", () => {
    const rows: [string, string, boolean][] = [
      ["Content-Length", "content-length", true],
      ["CONTENT-LENGTH", "content-length", true],
      ["content-length", "content-length", true],
      ["Content_Length", "content-length", false],
      ["Content.Length", "content-length", false],
      ["Content^Length", "content-length", false], // 0x5e | 0x20 is "~"
      ["Keep-Alive", "keep-alive", true],
      ["Keep-Alivf", "keep-alive", false],
      ["\xc3lose", "close", false], // 0xc3 | 0x20 is not "c"
    ];
    for (const [bytes, lower, same] of rows) assert.equal(bytesAre(latin1(bytes), 0, lower), same, bytes);
  });

  test("digitsValue: 1 to 15 digits, nothing else", () => {
    const rows: [string, number][] = [
      ["0", 0],
      ["64", 64],
      ["007", 7],
      ["123456789012345", 123456789012345],
      ["1234567890123456", -1],
      ["", -1],
      ["-1", -1],
      ["1 ", -1],
      ["1,1", -1],
      ["0x10", -1],
      ["+1", -1],
    ];
    for (const [text, value] of rows) assert.equal(digitsValue(latin1(text), 0, text.length), value, text);
  });

  test("copyKept and droppedLength: the head minus the dropped ranges", () => {
    const head = latin1("0123456789abcdefghij");
    const rows: [number[] | null, string][] = [
      [null, "0123456789abcdefghij"],
      [[0, 2], "23456789abcdefghij"],
      [[2, 4, 10, 12], "01456789cdefghij"],
      [[18, 20], "0123456789abcdefgh"],
      [[0, 20], ""],
    ];
    for (const [dropped, kept] of rows) {
      const out = Buffer.alloc(22, 0x2e);
      const end = copyKept(head, head.length, dropped, out, 1);
      assert.equal(out.toString("latin1", 1, end), kept, JSON.stringify(dropped));
      assert.equal(head.length - droppedLength(dropped), kept.length);
    }
  });

  test("copyBytes copies short runs by loop and long ones by set, to any offset", () => {
    for (const n of [0, 1, 31, 32, 33, 4000]) {
      const src = Buffer.from(Array.from({ length: n + 10 }, (_, i) => i & 0xff));
      const dst = Buffer.alloc(n + 20, 0xee);
      assert.equal(copyBytes(src, 5, 5 + n, dst, 7), 7 + n);
      assert.deepEqual(dst.subarray(7, 7 + n), src.subarray(5, 5 + n), `${n} bytes`);
      assert.equal(dst[6], 0xee);
      assert.equal(dst[7 + n], 0xee);
    }
  });
});
