// Reading CPU time out of /proc/<pid>/stat text. Pure: the harness feeds it file contents.

export interface ProcStat {
  pid: number;
  ppid: number;
  /** Clock ticks spent in user and kernel mode by the whole process (all threads). */
  utime: number;
  stime: number;
}

/**
 * Parses one /proc/<pid>/stat line; null when it is not one. The command name (field 2)
 * may contain spaces and parentheses, so fields are counted from the last ")".
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // After ") ": field 3 (state) is index 0, so field N is index N - 3.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const ppid = Number(rest[4 - 3]);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (![pid, ppid, utime, stime].every((n) => Number.isInteger(n) && n >= 0)) return null;
  return { pid, ppid, utime, stime };
}

/** pid and every descendant of it, given every process's parent. */
export function descendantsOf(root: number, stats: readonly ProcStat[]): Set<number> {
  const children = new Map<number, number[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  const out = new Set<number>([root]);
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.pop()!;
    for (const c of children.get(p) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        queue.push(c);
      }
    }
  }
  return out;
}

/** utime+stime ticks summed over a process tree (processes not in `stats` count 0). */
export function treeTicks(root: number, stats: readonly ProcStat[]): number {
  const tree = descendantsOf(root, stats);
  let ticks = 0;
  for (const s of stats) if (tree.has(s.pid)) ticks += s.utime + s.stime;
  return ticks;
}
