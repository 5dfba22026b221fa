import assert from "node:assert/strict";
import { test } from "node:test";
import { unreachable } from "../../../src/cli/client.ts";

// fetch() refuses the WHATWG "bad ports" before opening any socket, so these rejections
// are real and send nothing.
async function fetchRejection(url: string): Promise<unknown> {
  try {
    await fetch(url);
  } catch (err) {
    return err;
  }
  assert.fail(`fetch(${url}) was expected to reject`);
}

test("an admin address on a port fetch() refuses says so instead of 'TypeError'", async () => {
  for (const port of [1, 6000, 10080]) {
    const err = unreachable(`http://127.0.0.1:${port}`, await fetchRejection(`http://127.0.0.1:${port}/`));
    assert.equal(err.exitCode, 2);
    assert.match(
      err.message,
      new RegExp(
        `^cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: fetch\\(\\) refuses this port`,
      ),
    );
    assert.doesNotMatch(err.message, /TypeError/);
  }
});

test("an errno code is preferred, then the cause's message, then the error's name", () => {
  const refused = Object.assign(new TypeError("fetch failed"), {
    cause: { code: "ECONNREFUSED", message: "x" },
  });
  assert.equal(
    unreachable("http://a:1", refused).message,
    "cannot reach the admin API at http://a:1: ECONNREFUSED",
  );
  const other = Object.assign(new TypeError("fetch failed"), { cause: new Error("something odd") });
  assert.equal(
    unreachable("http://a:1", other).message,
    "cannot reach the admin API at http://a:1: something odd",
  );
  const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
  assert.equal(
    unreachable("http://a:1", timeout).message,
    "cannot reach the admin API at http://a:1: TimeoutError",
  );
});
