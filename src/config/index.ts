// The config layer's public surface (load.ts exports the same API). Everything else in
// src/config is internal.
export { formatHostPort, parseListen } from "./address.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export {
  type ConfigDiff,
  type ConfigIssue,
  type ConfigResult,
  configJsonSchema,
  diffConfig,
  formatIssue,
  isEmpty,
  loadConfigFile,
  parseConfig,
  type SectionDiff,
} from "./load.ts";
export type * from "./types.ts";
