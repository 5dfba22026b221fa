// Human output for the CLI and the shell: aligned tables, state colours only when
// asked (stdout is a TTY and NO_COLOR is unset), relative times. Pure string building.
import { formatDuration } from "../../config/duration.ts";

export interface Style {
  color: boolean;
}

const CODES: Record<string, string> = {
  green: "32",
  red: "31",
  yellow: "33",
  grey: "90",
  bold: "1",
};

export function paint(style: Style, color: keyof typeof CODES, text: string): string {
  return style.color ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

const STATE_COLORS: Record<string, keyof typeof CODES> = {
  up: "green",
  down: "red",
  unknown: "yellow",
  paused: "yellow",
  disabled: "grey",
  removed: "grey",
};

export function state(style: Style, s: string): string {
  return paint(style, STATE_COLORS[s] ?? "bold", s);
}

const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, "").length;

/** Columns padded to the widest cell (measured without colour codes). */
export function table(style: Style, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i] - visible(c))))
      .join("  ")
      .trimEnd();
  return `${[paint(style, "bold", line(header)), ...rows.map(line)].join("\n")}\n`;
}

/** "3s ago", "5m ago", "2h ago", "4d ago". */
export function ago(at: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** "1.2 KiB" style byte counts. */
/** A duration in milliseconds as the config file writes it (1000 -> "1s", 1500 -> "1s500ms"). */
export function duration(ms: number): string {
  return formatDuration(ms);
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** "key: value" lines, keys aligned. */
export function fields(style: Style, pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return `${pairs.map(([k, v]) => `${paint(style, "bold", `${k}:`)}${" ".repeat(w - k.length + 1)}${v}`).join("\n")}\n`;
}

export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "");
}
