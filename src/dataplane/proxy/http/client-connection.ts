// One client connection of an L7 frontend: reads request heads, routes, forwards
// each request to a backend over a pooled upstream connection, streams bodies both
// ways with backpressure (never buffering a whole body), and streams the response
// back. Exchanges on one connection are strictly sequential: pipelined requests wait
// (the socket is paused) until the previous response is complete.
//
// The request and the response advance independently (a backend may answer before
// the upload ends), so each side has its own state; the exchange ends when both are
// done, or early with the connection closed when they cannot be resynchronised.
import { Socket } from "node:net";
import type { FlowKey } from "../../../balance/types.ts";
import { ChunkedDecoder, DEFAULT_CHUNKED_LIMITS } from "./chunked.ts";
import {
  type CompiledHeaderRules,
  forwardRequestHead,
  forwardResponseHead,
  type ResponseExtras,
} from "./forward-head.ts";
import type { ForwardPolicy } from "./forward-policy.ts";
import { HeadScanner } from "./head-scanner.ts";
import type { HttpListener } from "./listener.ts";
import { buildResponse, errorBody, errorResponse, reasonPhrase } from "./local-response.ts";
import { parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from "./message-head.ts";
import { REQUEST_SCAN_ERRORS, RESPONSE_SCAN_ERRORS } from "./parse.ts";
import { scanResponseWire, WireResponse } from "./response-wire.ts";
import { expandLocation, MatchContext, normalizeClientAddress, rewritePath } from "./router.ts";
import { HttpParseError } from "./syntax.ts";
import type { ServiceTarget } from "./targets.ts";
import { Upstream, type UpstreamOwner } from "./upstream.ts";
import { type ClientSocket, UvSocket } from "./uv-socket.ts";
import { copyBytes } from "./wire.ts";

// Request side.
const REQ_HEAD = 0; // waiting for / reading a request head
const REQ_CONNECTING = 1; // head parsed, choosing and connecting to a backend
const REQ_BODY = 2; // streaming the request body
const REQ_DONE = 3; // request completely sent
const REQ_TUNNEL = 4; // after a 101: raw bytes both ways

// Response side.
const RES_NONE = 0;
const RES_HEAD = 1;
const RES_BODY = 2;
const RES_DONE = 3;
const RES_TUNNEL = 4;

// The one deadline a connection has at a time (checked by the listener's sweep).
const T_NONE = 0;
const T_HEAD = 1; // request head must complete (slowloris guard) -> 408
const T_IDLE = 2; // keep-alive idle between requests -> close quietly
const T_CONNECT = 3; // backend connect -> try another backend
const T_RESPONSE = 4; // backend response head -> 504
/** A deadline the sweep has not started yet (performance.now() is never negative). */
const DEADLINE_UNSET = -1;
/** How long a closing connection may stay silent before it is destroyed. */
export const LINGER_MS = 2000;

export class ClientConnection implements UpstreamOwner {
  readonly socket: ClientSocket;
  private readonly fe: HttpListener;
  private readonly scanner: HeadScanner;
  private readonly flow: FlowKey;
  private readonly clientAddress: string;
  /** A net/TLS socket (not the byte-stream face of an HTTP/2 stream). */
  private readonly realSocket: boolean;

  private reqState = REQ_HEAD;
  private resState = RES_NONE;
  private req: RequestHead | null = null;
  /** Bytes read past the current message (pipelined requests or body start), not yet processed. */
  private pending: Buffer | null = null;
  private reqRemaining = 0;
  private reqDecoder: ChunkedDecoder | null = null;

  private target: ServiceTarget | null = null;
  private forwardPath = "";
  private backendIndex = -1;
  private backendName = "";
  private excluded: Set<number> | null = null;
  private attempts = 0;
  private retriedReuse = false;
  /** Retries of this request after a reset before any response byte (http.retries bounds them). */
  private resetRetries = 0;
  /** Backend named by a valid sticky cookie of this request ("" when none). */
  private stickyFrom = "";
  /** hash-on key of this request, null when the service's own algorithm picks. */
  private hashKey: string | null = null;
  /** When the current request head was parsed (ms, listener clock); 0 between exchanges. */
  private started = 0;
  /** Status sent to the client for the current exchange (0 = none yet). */
  private sentStatus = 0;
  /** Last backend the current exchange was sent to (for the access log). */
  private lastBackend = "";
  /** Header rules of this exchange (the frontend's, or its route's merged with them). */
  private requestRules: CompiledHeaderRules | null = null;
  private responseRules: CompiledHeaderRules | null = null;
  /** Timeouts and retry limits of this exchange (the frontend's, or its route's). */
  private policy: ForwardPolicy;
  /** The whole-request timer (request-timeout), armed only when one is configured. */
  private requestTimer: NodeJS.Timeout | null = null;
  private upstream: Upstream | null = null;
  /** The backend broke framing (bytes after the response): never pool this connection. */
  private upstreamDirty = false;

  private resScanner: HeadScanner | null = null;
  private res: ResponseHead | null = null;
  private resRemaining = 0;
  private resDecoder: ChunkedDecoder | null = null;
  /** The chunked coding is being removed for an HTTP/1.0 client (decoder's onData writes). */
  private dechunk = false;

  private clientKeepAlive = true;
  private clientEnded = false;
  private closed = false;
  private waitingUpstreamDrain = false;
  private waitingClientDrain = false;

  // No timer of its own: setTimer only records the kind and deadline, and the
  // listener's sweep (HttpListener.sweep, a few times a second) calls sweep() below.
  // A keep-alive exchange sets and clears a deadline three times and a short
  // connection lives a few milliseconds: a Node timer for each (an object, a list
  // insert and removal) was a measurable share of the CPU of a new connection.
  private timerKind = T_NONE;
  /** The current kind's timeout (ms). */
  private timerMs = 0;
  /**
   * When it expires (the sweep's performance.now() ms); DEADLINE_UNSET until the first
   * sweep after setTimer, which counts the timeout from its own clock: setting a
   * timer reads no clock (three times per keep-alive exchange).
   */
  private deadline = DEADLINE_UNSET;
  /**
   * Inactivity of a real socket, checked by the sweep from its byte counts (Node
   * timers per socket are what this avoids): the limit (idleTimeout, or LINGER_MS
   * once closing), the bytes seen at the last sweep and when they last changed.
   * Virtual sockets (HTTP/2 streams) are left to their session's idle timeout (h2.ts).
   */
  private idleLimit: number;
  private idleBytes = -1;
  private idleSince = 0;
  /** Its index in the listener's live list (the list owns it). */
  liveSlot = -1;

  constructor(socket: ClientSocket, fe: HttpListener) {
    this.socket = socket;
    this.fe = fe;
    const limits = fe.limits;
    this.scanner = new HeadScanner(limits, REQUEST_SCAN_ERRORS, true);
    this.realSocket = socket instanceof Socket || socket instanceof UvSocket;
    this.policy = fe.policy;
    this.clientAddress = normalizeClientAddress(socket.remoteAddress ?? "");
    this.flow = { address: this.clientAddress, port: socket.remotePort ?? 0 };
    socket.setNoDelay(true);
    this.idleLimit = fe.idleTimeout;
    if (!this.realSocket) socket.setTimeout(fe.idleTimeout);
    socket.on("data", this.onData);
    socket.on("drain", this.onDrain);
    socket.on("end", this.onEnd);
    socket.on("timeout", this.onSocketTimeout);
    socket.on("error", () => {}); // 'close' follows; nothing to add
    socket.on("close", this.onClose);
    this.setTimer(T_HEAD, fe.settings.requestHeadTimeout);
  }

  /** The backend this connection's current exchange uses ("" when none). */
  get currentBackend(): string {
    return this.upstream === null ? "" : this.backendName;
  }

  /** True between exchanges with nothing of a next request read. */
  get idle(): boolean {
    return this.reqState === REQ_HEAD && this.scanner.empty && this.pending === null;
  }

  /** Graceful stop: close now if idle, else after the current exchange. */
  drain(): void {
    if (this.idle) this.endClient();
  }

  /** Give the socket (and the bytes read so far) to the HTTP/2 server; this object is done. */
  private handOver(first: Buffer): void {
    this.closed = true;
    this.clearTimer();
    const s = this.socket;
    s.off("data", this.onData);
    s.off("drain", this.onDrain);
    s.off("end", this.onEnd);
    s.off("timeout", this.onSocketTimeout);
    s.off("close", this.onClose);
    if (!this.realSocket) s.setTimeout(0);
    this.fe.connectionClosed(this);
    // A real connection (not the virtual one of an HTTP/2 stream) goes to the h2 server.
    if (this.realSocket) this.fe.adoptH2c(s, first);
    else s.destroy();
  }

  /** Hard stop (flush of the backend, or the drain deadline passed). */
  abort(): void {
    this.destroyUpstream();
    this.socket.destroy();
  }

  // ------------------------------------------------------------------ client side

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    switch (this.reqState) {
      case REQ_HEAD:
        this.readHead(chunk, 0);
        break;
      case REQ_BODY:
        this.forwardBody(chunk, 0);
        break;
      case REQ_TUNNEL:
        this.writeUpstream(chunk);
        break;
      default:
        // Pipelined bytes while an exchange is in flight: hold them, stop reading.
        this.stash(chunk, 0);
        this.socket.pause();
    }
  };

  private readHead(chunk: Buffer, start: number): void {
    if (this.timerKind === T_IDLE) this.setTimer(T_HEAD, this.fe.settings.requestHeadTimeout);
    if (
      start === 0 &&
      this.fe.settings.h2c &&
      this.fe.proto === "http" &&
      this.scanner.empty &&
      isH2Preface(chunk)
    ) {
      // Cleartext HTTP/2 with prior knowledge: the connection is not ours to parse.
      this.handOver(chunk);
      return;
    }
    let end: number;
    let req: RequestHead;
    try {
      end = this.scanner.feed(chunk, start);
      if (end < 0) return;
      req = parseRequestHead(this.scanner.take());
    } catch (err) {
      this.rejectRequest(err);
      return;
    }
    this.clearTimer();
    this.req = req;
    this.reqState = REQ_CONNECTING;
    this.resState = RES_NONE;
    if (end < chunk.length) {
      // Pipelined bytes or the body's start: hold them and stop reading. Without any,
      // the socket keeps flowing (pause + resume per request is a nextTick and a
      // stream round); bytes that arrive mid-exchange are held by onData's default.
      this.stash(chunk, end);
      this.socket.pause();
    }
    this.fe.counters.requests++;
    this.started = this.fe.now();
    this.sentStatus = 0;
    this.lastBackend = "";
    this.fe.retryBudget.recordRequest(this.started);
    this.dispatch(req);
  }

  private rejectRequest(err: unknown): void {
    const status = err instanceof HttpParseError ? err.status : 400;
    this.fe.counters.rejected++;
    this.fe.recordResponse(status, -1);
    this.fe.onBadRequest(err, this.clientAddress);
    this.sendAndClose(errorResponse(status));
  }

  private dispatch(req: RequestHead): void {
    const fe = this.fe;
    let target: ServiceTarget | undefined = fe.defaultTarget;
    let path = req.path;
    this.requestRules = fe.requestRules;
    this.responseRules = fe.responseRules;
    this.policy = fe.policy;
    const hit =
      fe.router.size === 0
        ? null
        : fe.router.match({
            method: req.method,
            host: req.host,
            target: req.path,
            headers: req.headers,
            clientAddress: this.clientAddress,
          });
    if (hit !== null) {
      const action = hit.route.action;
      switch (action.type) {
        case "forward": {
          target = fe.targets.get(action.service);
          path = rewritePath(action, hit.route, req.path);
          const rules = fe.routeRules.get(hit.route);
          if (rules !== undefined) {
            this.requestRules = rules.request;
            this.responseRules = rules.response;
          }
          this.policy = fe.routePolicies.get(hit.route) ?? fe.policy;
          break;
        }
        case "redirect":
          this.respondLocal(
            action.status,
            { Location: expandLocation(action.location, hit.ctx, fe.proto, hit.route) },
            "",
          );
          return;
        case "respond":
          this.respondLocal(action.status, action.headers, action.body);
          return;
        case "reject":
          if (action.status === 0) {
            this.closed = true;
            this.socket.destroy();
          } else {
            this.respondLocal(action.status, {}, `${action.status} ${reasonPhrase(action.status)}\n`);
          }
          return;
      }
    }
    const maxBody = fe.settings.maxBodySize;
    if (maxBody > 0 && req.bodyKind === "length" && req.contentLength > maxBody) {
      this.fe.counters.rejected++;
      this.closeWith(413);
      return;
    }
    if (target === undefined) {
      // A route names a service whose backends the desired state does not carry.
      this.respondLocal(503, {}, errorBody(503));
      return;
    }
    this.target = target;
    this.forwardPath = path;
    this.excluded = null;
    this.attempts = 0;
    this.retriedReuse = false;
    this.resetRetries = 0;
    this.upstreamDirty = false;
    if (this.policy.requestTimeout > 0) {
      this.requestTimer = setTimeout(this.onRequestTimeout, this.policy.requestTimeout);
    }
    this.affinity(req);
    this.connectUpstream(false);
  }

  /** Sticky cookie and hash-on key of this request. */
  private affinity(req: RequestHead): void {
    const fe = this.fe;
    this.stickyFrom = "";
    this.hashKey = null;
    const hashOn = fe.settings.hashOn;
    if (fe.sticky === null && hashOn === undefined) return;
    const ctx = new MatchContext({
      method: req.method,
      host: req.host,
      target: req.path,
      headers: req.headers,
      clientAddress: this.clientAddress,
    });
    if (fe.sticky !== null) {
      for (const v of ctx.cookieValues(fe.sticky.name) ?? []) {
        const b = fe.sticky.verify(v);
        if (b !== null) {
          this.stickyFrom = b;
          break;
        }
      }
    }
    if (hashOn === undefined) return;
    if (hashOn === "client-ip") this.hashKey = this.clientAddress;
    else if ("header" in hashOn) this.hashKey = ctx.headerValues(hashOn.header)[0] ?? null;
    else this.hashKey = ctx.cookieValues(hashOn.cookie)?.[0] ?? null;
  }

  /**
   * The backend for this attempt: the sticky cookie's when it can take traffic, else
   * the balancer's (or hash-on's) pick among backends neither tried nor ejected. When
   * only ejected ones remain, one of them (better than none, like Envoy's panic mode).
   */
  private choose(target: ServiceTarget): number {
    const fe = this.fe;
    const excluded = this.excluded;
    if (this.stickyFrom !== "") {
      const i = target.indexOf(this.stickyFrom);
      if (
        i >= 0 &&
        target.backends[i].weight > 0 &&
        !(excluded?.has(i) ?? false) &&
        !fe.outlier.isEjected(this.stickyFrom)
      ) {
        return i;
      }
    }
    if (fe.outlier.ejected() > 0) {
      const skip = new Set<number>(excluded ?? []);
      target.backends.forEach((b, i) => {
        if (fe.outlier.isEjected(b.name)) skip.add(i);
      });
      const i = this.pickIn(target, skip);
      if (i >= 0) return i;
    }
    return this.pickIn(target, excluded ?? undefined);
  }

  private pickIn(target: ServiceTarget, exclude: ReadonlySet<number> | undefined): number {
    return this.hashKey === null
      ? target.pick(this.flow, exclude)
      : target.pickByKey(this.hashKey, this.flow, exclude);
  }

  /** The exchange's response is over (complete or cut): stats and the access log. */
  private exchangeDone(): void {
    this.clearRequestTimer();
    if (this.started === 0) return;
    const fe = this.fe;
    const ms = fe.now() - this.started;
    this.started = 0;
    if (this.sentStatus === 0) return; // the client went away before any response
    fe.recordResponse(this.sentStatus, ms);
    if (fe.settings.accessLog) {
      const req = this.req;
      fe.accessLog({
        client: this.clientAddress,
        method: req?.method,
        host: req?.host,
        path: req?.target,
        status: this.sentStatus,
        backend: this.lastBackend === "" ? undefined : this.lastBackend,
        ms,
        retries: this.attempts + this.resetRetries,
      });
    }
  }

  /**
   * A response the proxy writes itself. The connection stays open only when the
   * request has no body (an unread body would be taken for the next request).
   */
  private respondLocal(status: number, headers: Record<string, string>, body: string): void {
    const req = this.req!;
    const keep = req.keepAlive && req.bodyKind === "none" && !this.fe.stopping && !this.clientEnded;
    const buf = buildResponse(status, headers, body, keep, req.minor, req.method === "HEAD");
    this.sentStatus = status;
    if (!keep) {
      this.sendAndClose(buf);
      return;
    }
    this.socket.write(buf);
    this.reqState = REQ_DONE;
    this.resState = RES_DONE;
    this.clientKeepAlive = true;
    this.finishExchange();
  }

  private stash(buf: Buffer, from: number): void {
    const part = from === 0 ? buf : buf.subarray(from);
    this.pending = this.pending === null ? part : Buffer.concat([this.pending, part]);
  }

  private forwardBody(buf: Buffer, start: number): void {
    const decoder = this.reqDecoder;
    if (decoder === null) {
      const avail = buf.length - start;
      if (avail <= this.reqRemaining) {
        this.writeUpstream(start === 0 ? buf : buf.subarray(start));
        this.reqRemaining -= avail;
        if (this.reqRemaining === 0) this.requestComplete();
      } else {
        const end = start + this.reqRemaining;
        this.writeUpstream(buf.subarray(start, end));
        this.reqRemaining = 0;
        this.stash(buf, end);
        this.requestComplete();
      }
      return;
    }
    let end: number;
    try {
      end = decoder.feed(buf, start);
    } catch (err) {
      // Part of the body already went to the backend: that connection is spoiled.
      this.fe.counters.rejected++;
      this.fe.onBadRequest(err, this.clientAddress);
      this.destroyUpstream();
      if (this.resState === RES_BODY) this.socket.destroy();
      else this.closeWith(err instanceof HttpParseError ? err.status : 400);
      return;
    }
    const maxBody = this.fe.settings.maxBodySize;
    if (maxBody > 0 && decoder.dataBytes > maxBody) {
      // Checked before forwarding this chunk: the backend never gets the excess.
      this.fe.counters.rejected++;
      this.destroyUpstream();
      if (this.resState === RES_BODY) this.socket.destroy();
      else this.closeWith(413);
      return;
    }
    if (end < 0) {
      this.writeUpstream(start === 0 ? buf : buf.subarray(start));
      return;
    }
    this.writeUpstream(buf.subarray(start, end));
    if (end < buf.length) this.stash(buf, end);
    this.requestComplete();
  }

  private writeUpstream(data: Buffer): void {
    const u = this.upstream;
    if (u === null || data.length === 0) return;
    this.fe.backendCounters(this.backendName).bytesIn += data.length;
    if (!u.socket.write(data)) {
      this.waitingUpstreamDrain = true;
      this.socket.pause();
    }
  }

  private requestComplete(): void {
    this.reqState = REQ_DONE;
    this.reqDecoder = null;
    if (this.pending !== null) this.socket.pause();
    if (this.resState === RES_HEAD && this.timerKind === T_NONE) {
      this.setTimer(T_RESPONSE, this.policy.responseTimeout);
    }
    if (this.resState === RES_DONE) this.finishExchange();
  }

  private readonly onDrain = (): void => {
    if (!this.waitingClientDrain) return;
    this.waitingClientDrain = false;
    this.upstream?.socket.resume();
  };

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    switch (this.reqState) {
      case REQ_HEAD:
        this.endClient();
        break;
      case REQ_TUNNEL:
        this.upstream?.socket.end();
        break;
      case REQ_CONNECTING:
        // The body may be complete in `pending` already: sendHead() decides.
        break;
      case REQ_BODY:
        // The client stopped mid-body: the backend can never get a complete request.
        this.abort();
        break;
      default:
      // REQ_DONE: finish the response, then close (clientEnded).
    }
  };

  private readonly onSocketTimeout = (): void => {
    // No bytes either way for idleTimeout (or a closing socket that lingers).
    this.abort();
  };

  private readonly onClose = (): void => {
    this.exchangeDone();
    this.closed = true;
    this.clearTimer();
    this.destroyUpstream();
    this.fe.connectionClosed(this);
  };

  private sendAndClose(buf: Buffer): void {
    this.exchangeDone();
    this.closed = true;
    this.clearTimer();
    this.destroyUpstream();
    if (!this.socket.destroyed) {
      this.socket.end(buf);
      this.socket.resume(); // read and drop whatever the client still sends until it closes
      this.lingerLimit();
    }
  }

  private endClient(): void {
    this.closed = true;
    this.clearTimer();
    if (!this.socket.destroyed) {
      this.socket.end();
      this.lingerLimit();
    }
  }

  // ------------------------------------------------------------------ backend side

  private connectUpstream(fresh: boolean, chosen = -1): void {
    const target = this.target!;
    const idx = chosen >= 0 ? chosen : this.choose(target);
    if (idx < 0) {
      this.failExchange(503);
      return;
    }
    const b = target.backends[idx];
    this.backendIndex = idx;
    this.backendName = b.name;
    this.lastBackend = b.name;
    const fe = this.fe;
    const counters = fe.backendCounters(b.name);
    counters.connectionsTotal++;
    counters.connectionsActive++;
    // An upgrade to an h2 backend takes a dedicated HTTP/1.1 connection — never one
    // from the pool (HTTP/2 virtual connections), never parked there afterwards —
    // unless it is a WebSocket and the backend's session offers RFC 8441 extended CONNECT.
    const upgrade = this.req!.upgrade;
    const h2 = fe.transport.h2;
    const dedicated =
      upgrade !== "" && h2 !== null && !(upgrade === "websocket" && h2.extendedConnect(b.name));
    if (dedicated) this.upstreamDirty = true;
    const reused = fresh || dedicated ? null : fe.pool.acquire(b.name, this, fe.idleTimeout);
    if (reused !== null) {
      this.upstream = reused;
      this.sendHead();
      return;
    }
    this.upstream = new Upstream(
      b.name,
      b.address,
      b.port,
      this,
      dedicated ? fe.upgradeTransport : fe.transport,
    );
    fe.counters.upstreamConnections++;
    this.setTimer(T_CONNECT, this.policy.connectTimeout);
  }

  onUpstreamConnect(u: Upstream): void {
    if (u !== this.upstream) return;
    this.clearTimer();
    u.setTimeout(this.fe.idleTimeout);
    this.sendHead();
  }

  private connectFailed(): void {
    const u = this.upstream;
    const fe = this.fe;
    fe.backendCounters(this.backendName).connectErrors++;
    fe.backendResult(this.backendName, false, "connect");
    this.releaseBackend();
    u?.destroy();
    this.upstream = null;
    this.excluded ??= new Set();
    this.excluded.add(this.backendIndex);
    // Nothing reached the backend: any request may go to another one (connect-retries).
    // Not charged to the retry budget: a refused or timed-out connect put no load on
    // anyone, and outlier detection takes a dead backend out of the picks.
    if (this.attempts >= this.policy.connectRetries) {
      this.failExchange(503);
      return;
    }
    this.attempts++;
    fe.counters.retries++;
    this.connectUpstream(false);
  }

  /** The frontend's retry budget has room for one more retry (counted either way). */
  private retryAllowed(): boolean {
    const fe = this.fe;
    if (fe.retryBudget.tryRetry(fe.now())) {
      fe.counters.retries++;
      return true;
    }
    fe.counters.retriesRefused++;
    return false;
  }

  private sendHead(): void {
    const req = this.req!;
    const u = this.upstream!;
    const b = this.target!.backends[this.backendIndex];
    const head = forwardRequestHead(req, {
      clientAddress: this.clientAddress,
      proto: this.fe.proto,
      path: this.forwardPath,
      fallbackHost: b.address.includes(":") ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`,
      forwarded: this.fe.forwardedMode(this.clientAddress),
      rules: this.requestRules,
      via: this.fe.settings.via,
    });
    this.resState = RES_HEAD;
    this.resScanner ??= new HeadScanner(this.fe.responseLimits, RESPONSE_SCAN_ERRORS, false);
    this.resScanner.reset();
    this.fe.backendCounters(this.backendName).bytesIn += head.length;
    if (req.bodyKind === "none") {
      u.socket.write(head, "latin1");
      this.requestComplete();
      return;
    }
    u.socket.cork();
    u.socket.write(head, "latin1");
    this.reqState = REQ_BODY;
    this.reqRemaining = req.contentLength;
    this.reqDecoder = req.bodyKind === "chunked" ? new ChunkedDecoder(DEFAULT_CHUNKED_LIMITS, 400) : null;
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.forwardBody(p, 0);
    }
    u.socket.uncork();
    if (this.reqState === REQ_BODY) {
      // A client that half-closed before its whole body arrived can never finish it.
      if (this.clientEnded) this.abort();
      else if (!this.waitingUpstreamDrain && !this.closed) this.socket.resume();
    }
  }

  onUpstreamData(u: Upstream, chunk: Buffer): void {
    if (u !== this.upstream) return;
    this.fe.backendCounters(this.backendName).bytesOut += chunk.length;
    switch (this.resState) {
      case RES_HEAD:
        this.readResponseHead(chunk, 0);
        break;
      case RES_BODY:
        this.forwardResponseBody(chunk, 0);
        break;
      case RES_TUNNEL:
        this.writeClient(chunk);
        break;
      default:
        // Bytes after a complete response: the backend broke framing.
        this.upstreamDirty = true;
    }
  }

  private readResponseHead(chunk: Buffer, start: number): void {
    const req = this.req!;
    const scanner = this.resScanner!;
    let at = start;
    for (;;) {
      let end: number;
      let res: ResponseHead;
      try {
        end = scanner.feed(chunk, at);
        if (end < 0) {
          this.upstream?.chunkKept(); // the scanner holds part of it until the head completes
          return;
        }
        const head = scanner.take();
        res = scanResponseWire(head, req.method) ?? parseResponseHead(head, req.method);
      } catch (err) {
        this.fe.onBadResponse(err, this.backendName);
        this.fe.backendResult(this.backendName, false, "invalid response");
        this.failExchange(502);
        return;
      }
      if (res.status >= 200) {
        this.startResponse(res, chunk, end);
        return;
      }
      if (res.status === 101) {
        if (req.upgrade === "") {
          this.failExchange(502);
          return;
        }
        this.startTunnel(res, chunk, end);
        return;
      }
      // Interim response (100 Continue, 103 Early Hints): relay to HTTP/1.1 clients only.
      if (req.minor === 1) this.socket.write(forwardResponseHead(res, 1, true), "latin1");
      if (end >= chunk.length) return;
      at = end;
    }
  }

  private startResponse(res: ResponseHead, chunk: Buffer, end: number): void {
    const req = this.req!;
    if (this.timerKind === T_RESPONSE) this.clearTimer();
    this.res = res;
    // An HTTP/1.0 client cannot read chunked: a backend that sends it anyway has the
    // coding removed here and the body delimited by closing the connection.
    const dechunk = req.minor === 0 && res.bodyKind === "chunked";
    this.clientKeepAlive =
      req.keepAlive && res.bodyKind !== "close" && !dechunk && !this.fe.stopping && !this.clientEnded;
    this.resState = RES_BODY;
    const fe = this.fe;
    fe.backendResult(this.backendName, res.status < 500, "5xx");
    this.sentStatus = res.status;
    const whole = res.bodyKind === "length" && chunk.length - end === res.contentLength;
    const bodyLength = whole ? res.contentLength : 0;
    const out = this.responseHeadBuffer(res, req.minor, dechunk, bodyLength);
    if (whole || res.bodyKind === "none") {
      // The common small response: head and whole body in one buffer, one write
      // (a corked head + body costs a writev per response).
      copyBytes(chunk, end, end + bodyLength, out, out.length - bodyLength);
      this.writeClient(out);
      this.responseComplete(chunk, end + bodyLength);
      return;
    }
    this.socket.cork();
    this.socket.write(out);
    this.resRemaining = res.contentLength;
    this.resDecoder = res.bodyKind === "chunked" ? new ChunkedDecoder(DEFAULT_CHUNKED_LIMITS, 502) : null;
    this.dechunk = dechunk;
    if (dechunk) this.resDecoder!.onData = (b, s, e) => this.writeClient(b.subarray(s, e));
    if (end < chunk.length) this.forwardResponseBody(chunk, end);
    this.socket.uncork();
  }

  /** The response head for the client, in a new buffer with `room` bytes free after it. */
  private responseHeadBuffer(res: ResponseHead, clientMinor: number, dechunk: boolean, room: number): Buffer {
    const keepAlive = this.clientKeepAlive;
    const extras = this.responseExtras();
    if (res instanceof WireResponse && extras === undefined && !dechunk) {
      // The usual head: forwarded from its received bytes (response-wire.ts).
      const out = Buffer.allocUnsafe(res.forwardedLength(clientMinor, keepAlive) + room);
      res.writeForwarded(out, 0, clientMinor, keepAlive);
      res.release();
      return out;
    }
    const head = forwardResponseHead(res, clientMinor, keepAlive, dechunk, extras);
    const out = Buffer.allocUnsafe(head.length + room);
    out.write(head, 0, "latin1");
    return out;
  }

  /** Header rules, Via and a sticky Set-Cookie for the response head; undefined when none apply. */
  private responseExtras(): ResponseExtras | undefined {
    const fe = this.fe;
    const setCookie =
      fe.sticky !== null && this.backendName !== "" && this.backendName !== this.stickyFrom
        ? fe.sticky.setCookie(this.backendName)
        : undefined;
    if (this.responseRules === null && !fe.settings.via && setCookie === undefined) return undefined;
    return { rules: this.responseRules, via: fe.settings.via, setCookie };
  }

  private forwardResponseBody(buf: Buffer, start: number): void {
    const res = this.res!;
    if (res.bodyKind === "close") {
      this.writeClient(start === 0 ? buf : buf.subarray(start));
      return;
    }
    const decoder = this.resDecoder;
    if (decoder === null) {
      const avail = buf.length - start;
      if (avail <= this.resRemaining) {
        this.writeClient(start === 0 ? buf : buf.subarray(start));
        this.resRemaining -= avail;
        if (this.resRemaining === 0) this.responseComplete(buf, buf.length);
      } else {
        const end = start + this.resRemaining;
        this.writeClient(buf.subarray(start, end));
        this.resRemaining = 0;
        this.responseComplete(buf, end);
      }
      return;
    }
    let end: number;
    try {
      end = decoder.feed(buf, start);
    } catch (err) {
      // The response already started: all we can do is cut the client off.
      this.fe.onBadResponse(err, this.backendName);
      this.abort();
      return;
    }
    if (end < 0) {
      if (!this.dechunk) this.writeClient(start === 0 ? buf : buf.subarray(start));
      return;
    }
    if (!this.dechunk) this.writeClient(buf.subarray(start, end));
    this.responseComplete(buf, end);
  }

  private writeClient(data: Buffer): void {
    if (data.length === 0) return;
    const flowing = this.socket.write(data);
    // Not written through at once (corked, or the socket backed up): the write queue
    // holds the chunk, so the upstream's next read must go elsewhere. Only a real
    // socket drops the chunk when its write completes; an HTTP/2 stream's bridge
    // may keep it whatever writableLength says.
    if (this.socket.writableLength > 0 || !this.realSocket) this.upstream?.chunkKept();
    if (!flowing && !this.waitingClientDrain) {
      this.waitingClientDrain = true;
      this.upstream?.socket.pause();
    }
  }

  private responseComplete(buf: Buffer, end: number): void {
    this.resState = RES_DONE;
    this.resDecoder = null;
    if (end < buf.length) this.upstreamDirty = true;
    if (this.reqState === REQ_DONE) {
      this.finishExchange();
    } else if (this.reqState === REQ_BODY) {
      // The backend answered before the upload ended: the rest of the body cannot be
      // told from a next request without reading it all, so close after this response.
      this.clientKeepAlive = false;
      this.finishExchange();
    }
  }

  /** Both sides done (or the response done early): recycle the upstream, then next request or close. */
  private finishExchange(): void {
    this.exchangeDone();
    const u = this.upstream;
    if (u !== null) {
      this.upstream = null;
      this.releaseBackend();
      const reusable =
        !this.upstreamDirty &&
        this.res !== null &&
        this.res.keepAlive &&
        this.reqState === REQ_DONE &&
        this.resState === RES_DONE;
      if (this.waitingClientDrain) u.socket.resume();
      if (reusable) this.fe.pool.release(u);
      else u.destroy();
    }
    this.waitingClientDrain = false;
    this.waitingUpstreamDrain = false;
    this.dechunk = false;
    this.res = null;
    this.req = null;
    this.target = null;
    if (!this.clientKeepAlive || this.fe.stopping || this.clientEnded) {
      this.endClient();
      return;
    }
    this.reqState = REQ_HEAD;
    this.resState = RES_NONE;
    this.setTimer(T_IDLE, this.fe.settings.keepAliveTimeout);
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.readHead(p, 0);
    }
    if (this.reqState === REQ_HEAD && !this.closed && this.socket.isPaused()) this.socket.resume();
  }

  private startTunnel(res: ResponseHead, chunk: Buffer, end: number): void {
    this.clearTimer();
    // A tunnel is not a request: idle-timeout governs it from here.
    this.clearRequestTimer();
    this.reqState = REQ_TUNNEL;
    this.resState = RES_TUNNEL;
    this.socket.write(forwardResponseHead(res, 1, true), "latin1");
    if (end < chunk.length) this.writeClient(chunk.subarray(end));
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.writeUpstream(p);
    }
    if (!this.waitingUpstreamDrain) this.socket.resume();
    if (this.clientEnded) this.upstream?.socket.end();
  }

  onUpstreamDrain(u: Upstream): void {
    if (u !== this.upstream || !this.waitingUpstreamDrain) return;
    this.waitingUpstreamDrain = false;
    if (
      !this.closed &&
      (this.reqState === REQ_BODY || this.reqState === REQ_TUNNEL || this.pending === null)
    ) {
      this.socket.resume();
    }
  }

  onUpstreamClose(u: Upstream, _error: Error | undefined): void {
    if (u !== this.upstream) return;
    if (!u.connected) {
      this.clearTimer();
      this.connectFailed();
      return;
    }
    const backend = this.backendName;
    this.upstream = null;
    this.releaseBackend();
    if (this.resState === RES_TUNNEL) {
      this.endClient();
      return;
    }
    if (this.resState === RES_BODY && this.res !== null && this.res.bodyKind === "close") {
      // Close-delimited body: the close is its end.
      this.resState = RES_DONE;
      this.clientKeepAlive = false;
      this.finishExchange();
      return;
    }
    if (this.resState === RES_HEAD) {
      const req = this.req!;
      if (u.uses > 0 && this.resScanner!.empty && req.bodyKind === "none" && !this.retriedReuse) {
        // A pooled connection the backend closed just as we reused it: a known race
        // of keep-alive. Retry once on a fresh connection (only for bodiless requests).
        this.retriedReuse = true;
        this.clearTimer();
        this.reqState = REQ_CONNECTING;
        this.connectUpstream(true);
        return;
      }
      this.fe.backendResult(backend, false, "reset");
      if (this.resScanner!.empty && this.replayable(req) && this.resetRetries < this.policy.retries) {
        // Reset before any response byte: another backend may serve this idempotent,
        // bodiless request (replaying a streamed body is impossible, it was not kept).
        this.excluded ??= new Set();
        this.excluded.add(this.backendIndex);
        const next = this.choose(this.target!);
        if (next >= 0 && this.retryAllowed()) {
          this.resetRetries++;
          this.clearTimer();
          this.reqState = REQ_CONNECTING;
          this.resState = RES_NONE;
          this.connectUpstream(false, next);
          return;
        }
      }
      this.failExchange(502);
      return;
    }
    if (this.resState === RES_BODY) {
      // Truncated response: the client must see the connection cut, not a short body.
      this.socket.destroy();
    }
  }

  onUpstreamTimeout(u: Upstream): void {
    if (u !== this.upstream) return;
    if (this.resState === RES_HEAD) {
      this.fe.backendResult(this.backendName, false, "timeout");
      this.failExchange(504);
    } else {
      this.abort();
    }
  }

  /**
   * A request that may be sent again after a reset before any response byte: one
   * with an idempotent method (GET, HEAD, OPTIONS, PUT, DELETE) or without a body — and
   * since bodies are streamed, never kept, only a bodiless request can be replayed at
   * all. So: every bodiless request, whatever its method (a bodiless POST included,
   * unlike nginx's default; set `retries: 0` where that matters).
   */
  private replayable(req: RequestHead): boolean {
    return req.bodyKind === "none";
  }

  /** Answer the client with a proxy error (if no response started yet) and end the exchange. */
  private failExchange(status: number): void {
    this.clearTimer();
    this.destroyUpstream();
    this.fe.counters.errors[status] = (this.fe.counters.errors[status] ?? 0) + 1;
    if (this.resState === RES_BODY || this.resState === RES_TUNNEL) {
      this.socket.destroy();
      return;
    }
    const req = this.req;
    if (req !== null && this.reqState !== REQ_BODY) {
      this.respondLocal(status, {}, errorBody(status));
    } else {
      this.closeWith(status);
    }
  }

  /** An error response to the current request, then close (the exchange is counted with it). */
  private closeWith(status: number): void {
    this.sentStatus = status;
    this.sendAndClose(errorResponse(status));
  }

  private destroyUpstream(): void {
    const u = this.upstream;
    if (u === null) return;
    this.upstream = null;
    this.releaseBackend();
    u.destroy();
  }

  private releaseBackend(): void {
    if (this.backendName !== "") {
      this.fe.backendCounters(this.backendName).connectionsActive--;
      this.backendName = "";
    }
  }

  // ------------------------------------------------------------------ timers

  private clearRequestTimer(): void {
    if (this.requestTimer !== null) {
      clearTimeout(this.requestTimer);
      this.requestTimer = null;
    }
  }

  /** request-timeout passed: 504 if no response started (else the client is cut). */
  private readonly onRequestTimeout = (): void => {
    this.requestTimer = null;
    if (this.closed || this.reqState === REQ_HEAD || this.reqState === REQ_TUNNEL) return;
    // Only a backend that has the whole request and has not answered is to blame.
    if (this.resState === RES_HEAD && this.reqState === REQ_DONE) {
      this.fe.backendResult(this.backendName, false, "timeout");
    }
    this.failExchange(504);
  };

  private setTimer(kind: number, ms: number): void {
    this.timerKind = kind;
    this.timerMs = ms;
    this.deadline = DEADLINE_UNSET;
  }

  /** No timeout applies now. */
  private clearTimer(): void {
    this.timerKind = T_NONE;
  }

  /** Closing: a socket silent for LINGER_MS is destroyed (the client may never send its FIN). */
  private lingerLimit(): void {
    if (this.realSocket) {
      this.idleLimit = LINGER_MS;
      this.idleBytes = -1; // counts from the next sweep
    } else {
      this.socket.setTimeout(LINGER_MS);
    }
  }

  /**
   * Called by the listener's sweep with its clock (performance.now()): a deadline
   * that has passed fires, one set since the last sweep starts counting; a real socket
   * whose byte counts stood still for its idle limit is aborted. Both are noticed at
   * most two sweep periods late, never early.
   */
  sweep(now: number): void {
    if (this.realSocket && !this.socket.destroyed) {
      const bytes = this.socket.bytesRead + this.socket.bytesWritten;
      if (bytes !== this.idleBytes) {
        this.idleBytes = bytes;
        this.idleSince = now;
      } else if (now - this.idleSince >= this.idleLimit) {
        this.onSocketTimeout();
        return;
      }
    }
    const kind = this.timerKind;
    if (kind === T_NONE || this.closed) return;
    if (this.deadline === DEADLINE_UNSET) {
      this.deadline = now + this.timerMs;
      return;
    }
    if (now < this.deadline) return;
    this.timerKind = T_NONE;
    switch (kind) {
      case T_HEAD:
        // Nothing at all sent: close quietly. Part of a head: 408.
        if (this.scanner.empty) this.endClient();
        else {
          this.fe.counters.errors[408] = (this.fe.counters.errors[408] ?? 0) + 1;
          this.fe.recordResponse(408, -1);
          this.sendAndClose(errorResponse(408));
        }
        break;
      case T_IDLE:
        this.endClient();
        break;
      case T_CONNECT:
        this.connectFailed();
        break;
      case T_RESPONSE:
        this.fe.backendResult(this.backendName, false, "timeout");
        this.failExchange(504);
        break;
    }
  }
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** The first bytes are the HTTP/2 connection preface (at least its request line). */
function isH2Preface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, H2_PREFACE.length);
  return n >= 14 && chunk.compare(H2_PREFACE, 0, n, 0, n) === 0;
}
