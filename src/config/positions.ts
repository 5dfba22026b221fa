// Map a key path back to where it is written in the YAML source, so every error can
// say file:line:column. Paths that do not exist in the file (a missing required key,
// a default) resolve to the deepest node that does exist: the mapping that lacks it.
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
} from "yaml";
import type { PathSegment } from "./issues.ts";

export interface Position {
  line: number;
  column: number;
}

type AnyNode = Node | null | undefined;

function deref(doc: Document, node: unknown): AnyNode {
  let n = node as AnyNode;
  // Aliases chain at most a few levels; the bound guards against a malformed cycle.
  for (let i = 0; i < 16 && n && isAlias(n); i++) n = n.resolve(doc) as AnyNode;
  return n;
}

function keyText(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  // With merge keys on, `<<` is parsed to a Symbol, not the string "<<".
  return typeof key.value === "symbol" ? "<<" : String(key.value);
}

/** The pair holding `key` in a map, looking through `<<` merge keys (nearest first). */
function findPair(doc: Document, map: AnyNode, key: string, depth = 0): Pair<unknown, unknown> | undefined {
  if (!isMap(map) || depth > 8) return undefined;
  for (const item of map.items) if (isPair(item) && keyText(item.key) === key) return item;
  for (const item of map.items) {
    if (!isPair(item) || keyText(item.key) !== "<<") continue;
    const sources = deref(doc, item.value);
    const list = isSeq(sources) ? sources.items.map((s) => deref(doc, s)) : [sources];
    for (const src of list) {
      const found = findPair(doc, src, key, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

export function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PathSegment[],
  at: "key" | "value" = "value",
): Position {
  let node: AnyNode = deref(doc, doc.contents);
  let target: AnyNode = node;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = findPair(doc, node, String(seg));
      if (!pair) break;
      const value = deref(doc, pair.value);
      // A key with no value (`spare:`) has no value node: point at the key.
      if ((last && at === "key") || !value) {
        target = pair.key as AnyNode;
        if (!value) break;
        node = value;
        continue;
      }
      node = value;
      target = value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = deref(doc, node.items[seg]);
      if (!item) break;
      node = item;
      target = item;
    } else {
      break;
    }
  }
  const offset = target?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
