import assert from "node:assert/strict";
import { test } from "node:test";
import { buildResponse, errorBody, reasonPhrase } from "../../../src/dataplane/proxy/http/local-response.ts";

const statusLine = (status: number) =>
  buildResponse(status, {}, "", true).toString("latin1").split("\r\n")[0];

test("status lines carry the standard reason phrase, never 'Unknown'", () => {
  const cases: Array<[number, string]> = [
    [200, "HTTP/1.1 200 OK"],
    [404, "HTTP/1.1 404 Not Found"],
    [413, "HTTP/1.1 413 Content Too Large"],
    [418, "HTTP/1.1 418 I'm a Teapot"],
    [425, "HTTP/1.1 425 Too Early"],
    [451, "HTTP/1.1 451 Unavailable For Legal Reasons"],
    [511, "HTTP/1.1 511 Network Authentication Required"],
    [599, "HTTP/1.1 599 "],
    [299, "HTTP/1.1 299 "],
  ];
  for (const [status, line] of cases) assert.equal(statusLine(status), line, `status ${status}`);
});

test("a status without a known phrase gets an empty reason phrase", () => {
  assert.equal(reasonPhrase(599), "");
  assert.equal(reasonPhrase(418), "I'm a Teapot");
});

test("the default body of an unknown status has no dangling phrase", () => {
  assert.equal(errorBody(599), "599\n");
  assert.equal(errorBody(418), "418 I'm a Teapot\n");
  assert.equal(errorBody(503), "503 Service Unavailable: no backend is available\n");
});
