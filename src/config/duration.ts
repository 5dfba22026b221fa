// Human durations in lodestone.yaml: "250ms", "2s", "1m", "1h" and combinations
// in descending order such as "1m30s" or "1h15m". A bare number is refused because
// "interval: 2" is ambiguous (seconds? milliseconds?) and a silent guess is the kind
// of mistake that only shows up under load.

/** Largest duration Node's timers accept without overflowing to 1ms (2^31-1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNIT_ORDER: readonly Unit[] = ["h", "m", "s", "ms"];

/** Shape accepted by the schema (also exported into the JSON Schema for editors). */
export const DURATION_PATTERN = "^(\\d+(\\.\\d+)?(h|ms|m|s))+$";

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

const PART = /(\d+(?:\.\d+)?)(h|ms|m|s)/y;

/** Parse a duration string into whole milliseconds (rounded), or say what is wrong. */
export function parseDuration(text: string): DurationResult {
  const s = text.trim();
  if (s === "")
    return { ok: false, message: "expected a duration such as 2s, 500ms or 1m30s, got an empty string" };
  if (/^\d+(\.\d+)?$/.test(s)) {
    return { ok: false, message: `"${s}" has no unit: use a unit, e.g. ${s}s or ${s}ms` };
  }
  let total = 0;
  let pos = 0;
  let lastRank = -1;
  PART.lastIndex = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (m === null) {
      return { ok: false, message: `"${text}" is not a duration: expected e.g. 250ms, 2s, 1m, 1h or 1m30s` };
    }
    const unit = m[2] as Unit;
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= lastRank) {
      return {
        ok: false,
        message: `"${text}" is not a duration: write each unit once, largest first (h, m, s, ms), e.g. 1m30s`,
      };
    }
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS[unit];
    pos = PART.lastIndex;
  }
  const ms = Math.round(total);
  if (ms > MAX_DURATION_MS) {
    return { ok: false, message: `"${text}" is too long: at most ${formatDuration(MAX_DURATION_MS)}` };
  }
  return { ok: true, ms };
}

/** Format milliseconds back into the shortest combination, e.g. 90000 -> "1m30s", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const unit of UNIT_ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}
