import assert from "node:assert/strict";
import { test } from "node:test";
import { descendantsOf, parseProcStat, treeTicks } from "../../../bench/harness/procstat.ts";

function statLine(pid: number, comm: string, ppid: number, utime: number, stime: number): string {
  // Fields 3..15 then a tail, as in /proc/<pid>/stat.
  return `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 1 0 12345 1000 10 18446744073709551615\n`;
}

test("parseProcStat reads pid, ppid, utime and stime", () => {
  assert.deepEqual(parseProcStat(statLine(42, "nginx", 1, 300, 45)), {
    pid: 42,
    ppid: 1,
    utime: 300,
    stime: 45,
  });
});

test("a command name with spaces and parentheses does not shift the fields", () => {
  assert.deepEqual(parseProcStat(statLine(7, "node (worker) 1", 6, 11, 22)), {
    pid: 7,
    ppid: 6,
    utime: 11,
    stime: 22,
  });
});

test("text that is not a stat line gives null", () => {
  for (const bad of ["", "hello", "12 (x) S", "x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13"]) {
    assert.equal(parseProcStat(bad), null, JSON.stringify(bad));
  }
});

test("treeTicks sums a process and all its descendants, nothing else", () => {
  const stats = [
    { pid: 1, ppid: 0, utime: 1000, stime: 1000 },
    { pid: 10, ppid: 1, utime: 5, stime: 1 }, // root of the tree we measure
    { pid: 11, ppid: 10, utime: 100, stime: 20 }, // worker
    { pid: 12, ppid: 10, utime: 200, stime: 30 }, // worker
    { pid: 13, ppid: 12, utime: 7, stime: 0 }, // grandchild
    { pid: 20, ppid: 1, utime: 999, stime: 999 }, // unrelated
  ];
  assert.deepEqual(
    [...descendantsOf(10, stats)].sort((a, b) => a - b),
    [10, 11, 12, 13],
  );
  assert.equal(treeTicks(10, stats), 6 + 120 + 230 + 7);
  assert.equal(treeTicks(99, stats), 0);
});
