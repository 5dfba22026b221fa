// Parsing an HAProxy agent-check reply: one line of words separated by spaces,
// tabs or commas, e.g. "up", "drain", "weight:50", "75%", "up 50% # busy".
// Pure: the probe (agent.ts) reads the line, this decides what it means.
import type { AgentReport, AgentState } from "../types.ts";

export interface AgentReply extends AgentReport {
  /** The words understood, normalised ("fail"/"stopped" -> "down", "50%" -> "weight:50"). */
  words: string[];
  /** Words that were not understood (ignored, like HAProxy does). */
  ignored: string[];
}

export interface AgentVerdict {
  ok: boolean;
  reason: string;
  report?: AgentReport;
}

const STATE_WORDS: Record<string, AgentState> = {
  up: "up",
  down: "down",
  fail: "down",
  failed: "down",
  stopped: "down",
  drain: "drain",
  ready: "ready",
  maint: "maint",
};

// When one reply carries several state words, the most serious one is reported.
const SEVERITY: Record<AgentState, number> = { up: 0, ready: 1, drain: 2, down: 3, maint: 4 };

/** Weight as a percentage of the configured weight: "50%", "weight:50" or "weight:50%"; capped at 100. */
function parseWeight(word: string): number | undefined {
  const m = /^(?:weight:)?(\d{1,4})(%?)$/.exec(word);
  if (!m) return undefined;
  // a bare number is not a weight (only "N%" or "weight:N")
  if (!word.startsWith("weight:") && m[2] !== "%") return undefined;
  return Math.min(100, Number(m[1]));
}

export function parseAgentReply(line: string): AgentReply {
  // Everything after '#' is a free-text description.
  const text = line.split("#", 1)[0]!.trim().toLowerCase();
  const reply: AgentReply = { words: [], ignored: [] };
  for (const word of text.split(/[\s,]+/)) {
    if (word === "") continue;
    const state = STATE_WORDS[word];
    if (state) {
      if (reply.state === undefined || SEVERITY[state] > SEVERITY[reply.state]) reply.state = state;
      reply.words.push(state);
      continue;
    }
    const weight = parseWeight(word);
    if (weight !== undefined) {
      reply.weightPercent = weight;
      reply.words.push(`weight:${weight}`);
      continue;
    }
    reply.ignored.push(word);
  }
  return reply;
}

/** What a reply means for the probe: down/maint fail, anything else understood passes. */
export function agentVerdict(line: string): AgentVerdict {
  const reply = parseAgentReply(line);
  if (reply.words.length === 0) {
    const shown = line.trim().slice(0, 80);
    return {
      ok: false,
      reason:
        shown === "" ? "agent sent an empty reply" : `agent reply not understood: ${JSON.stringify(shown)}`,
    };
  }
  const report: AgentReport = {};
  if (reply.state !== undefined) report.state = reply.state;
  if (reply.weightPercent !== undefined) report.weightPercent = reply.weightPercent;
  const ok = reply.state !== "down" && reply.state !== "maint";
  return { ok, reason: `agent says ${reply.words.join(" ")}`, report };
}
