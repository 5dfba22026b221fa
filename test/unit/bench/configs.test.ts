import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import {
  backendNginxConf,
  haproxyConf,
  lodestoneYaml,
  nginxProxyConf,
  type ProxySetup,
} from "../../../bench/harness/configs.ts";
import { SMALL_BODY } from "../../../bench/harness/scenarios.ts";

const base: ProxySetup = {
  mode: "http",
  host: "127.0.0.1",
  listenPort: 18080,
  backendPorts: [18001, 18002],
  workers: 2,
};
const l4: ProxySetup = { ...base, mode: "tcp" };

test("lodestone YAML: both backends in one round-robin pool, listen, protocol, admin and workers", () => {
  for (const s of [base, l4]) {
    const doc = parse(lodestoneYaml(s, 18700));
    assert.deepEqual(doc.backends, {
      b1: { address: "127.0.0.1", port: 18001 },
      b2: { address: "127.0.0.1", port: 18002 },
    });
    assert.deepEqual(doc.services, {
      bench: { algorithm: "round-robin", pools: [{ name: "main", backends: { b1: {}, b2: {} } }] },
    });
    assert.deepEqual(doc.frontends, {
      bench: { listen: "127.0.0.1:18080", protocol: s.mode, service: "bench" },
    });
    assert.deepEqual(doc.admin, { listen: "127.0.0.1:18700" });
    assert.deepEqual(doc.runtime, { workers: 2, "log-level": "warn" });
  }
});

test("lodestone YAML brackets an IPv6 listen address", () => {
  const doc = parse(lodestoneYaml({ ...base, host: "::1" }, 18700));
  assert.equal(doc.frontends.bench.listen, "[::1]:18080");
  assert.equal(doc.admin.listen, "[::1]:18700");
  assert.equal(doc.backends.b1.address, "::1");
});

test("HAProxy: threads = workers, round-robin over both backends, http-reuse only in http mode", () => {
  const l7 = haproxyConf(base);
  assert.match(l7, /^\s*nbthread 2$/m);
  assert.match(l7, /^\s*mode http$/m);
  assert.match(l7, /^\s*http-reuse always$/m);
  assert.match(l7, /^\s*bind 127\.0\.0\.1:18080$/m);
  assert.match(l7, /^\s*balance roundrobin$/m);
  assert.match(l7, /^\s*server b1 127\.0\.0\.1:18001$/m);
  assert.match(l7, /^\s*server b2 127\.0\.0\.1:18002$/m);
  const tcp = haproxyConf(l4);
  assert.match(tcp, /^\s*mode tcp$/m);
  assert.doesNotMatch(tcp, /http-reuse|http-keep-alive/);
});

test("NGINX proxy, L7: worker count, HTTP/1.1 keep-alive upstream, no disk spooling", () => {
  const c = nginxProxyConf(base, "/tmp/p");
  assert.match(c, /^worker_processes 2;$/m);
  assert.match(c, /^\s*http \{$/m);
  assert.doesNotMatch(c, /^stream \{|load_module/m);
  assert.match(c, /server 127\.0\.0\.1:18001;[\s\S]*server 127\.0\.0\.1:18002;/);
  assert.match(c, /^\s*keepalive \d+;$/m);
  assert.match(c, /proxy_http_version 1\.1;/);
  assert.match(c, /proxy_set_header Connection "";/);
  assert.match(c, /proxy_max_temp_file_size 0;/);
  assert.match(c, /listen 127\.0\.0\.1:18080\b/);
  assert.match(c, /^pid \/tmp\/p\/nginx\.pid;$/m);
});

test("NGINX proxy, L4: a stream block, with load_module only when the module is dynamic", () => {
  const dyn = nginxProxyConf(l4, "/tmp/p", "/usr/lib/nginx/modules/ngx_stream_module.so");
  assert.match(dyn, /^load_module \/usr\/lib\/nginx\/modules\/ngx_stream_module\.so;$/m);
  assert.ok(dyn.indexOf("load_module") < dyn.indexOf("events"), "load_module must come first");
  assert.match(dyn, /^stream \{$/m);
  assert.match(dyn, /^\s*proxy_pass bench;$/m);
  assert.doesNotMatch(dyn, /^http \{/m);
  const builtIn = nginxProxyConf(l4, "/tmp/p");
  assert.doesNotMatch(builtIn, /load_module/);
  assert.match(builtIn, /^stream \{$/m);
});

test("backend NGINX: one server per port, the small body and the 1 MiB file, paths inside the prefix", () => {
  const c = backendNginxConf({
    host: "127.0.0.1",
    ports: [18001, 18002],
    docRoot: "/tmp/b/www",
    prefix: "/tmp/b",
    workers: 1,
  });
  assert.equal(c.match(/^\s*server \{$/gm)?.length, 2);
  assert.match(c, /listen 127\.0\.0\.1:18001\b/);
  assert.match(c, /listen 127\.0\.0\.1:18002\b/);
  assert.ok(c.includes(`return 200 "${SMALL_BODY}";`));
  assert.match(c, /location = \/1m \{ root \/tmp\/b\/www;/);
  for (const m of c.matchAll(/(?:pid|error_log|_temp_path) (\S+?);?\s/g)) {
    assert.ok(m[1].startsWith("/tmp/b/"), `${m[0].trim()} should live in the prefix`);
  }
  assert.doesNotMatch(c, /\/var\/|\/etc\//);
});
