// Reads the L7 settings (routes, http limits/timeouts, tls) of a frontend. The
// config loader normalizes them with config/routes.ts; when a FrontendConfig still
// carries raw route mappings (built by hand, or by a loader that has not wired the
// L7 schema yet) they are normalized here, and bad ones are a clear error.
import {
  HTTP_DEFAULTS,
  type HttpFrontendSettings,
  type Route,
  routesSchema,
} from "../../../config/routes.ts";
import type { FrontendConfig } from "../../../config/types.ts";
import { LodestoneError } from "../../../errors.ts";

function isNormalizedRoute(r: unknown): r is Route {
  return typeof r === "object" && r !== null && "action" in r && "match" in r;
}

export function httpConfigOf(settings: FrontendConfig): HttpFrontendSettings {
  const raw = settings.routes ?? [];
  let routes: Route[];
  if (raw.every(isNormalizedRoute)) {
    routes = raw;
  } else {
    const parsed = routesSchema.safeParse(raw);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new LodestoneError(
        "CONFIG_INVALID_ROUTES",
        `frontend ${settings.name}: routes.${first.path.join(".")}: ${first.message}`,
      );
    }
    routes = parsed.data;
  }
  const out: HttpFrontendSettings = { routes, http: { ...HTTP_DEFAULTS, ...settings.http } };
  if (settings.tls !== undefined) out.tls = settings.tls;
  return out;
}
