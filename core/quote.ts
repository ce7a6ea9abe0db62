// What an error message quotes of a value: at most QUOTE_CHARS characters of it, then how long it was, so
// that a crafted file (a 50 MB string in a header) cannot fill the terminal; and JSON nesting measured
// without recursion, so that a crafted file nested a million levels deep is refused by name instead of
// ending in "Maximum call stack size exceeded". Pure, no I/O.
/** The most of a value a message quotes, in characters. */
export const QUOTE_CHARS = 200;

/** `text` as a message quotes it: whole up to `max` characters, else its first `max` and "…(N chars)". */
export function quote(text: string, max = QUOTE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}

/**
 * A value as JSON for a message, capped by quote(); a value nested too deeply for JSON.stringify (which
 * recurses) is described instead of crashing the message with "Maximum call stack size exceeded".
 */
export function quoteJson(v: unknown, max = QUOTE_CHARS): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    return `a ${Array.isArray(v) ? 'list' : typeof v} nested too deeply to show`;
  }
  return quote(json ?? String(v), max);
}

/**
 * How deep arrays and objects nest in the JSON text `text` (0 for a scalar), from one pass over its
 * characters (strings skipped), without parsing it; stops once past `limit`.
 */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // to the closing quote, over escapes
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return deepest;
}

/**
 * How deep the JSON of a plif-snn file may nest (a checkpoint's header, a run's config, metrics and firing
 * maps nest at most 6 levels); deeper is refused before anything walks it recursively.
 */
export const MAX_JSON_DEPTH = 64;

/** The longest whitespace-free run a message keeps whole (paths fit); longer runs are quoted. */
const MESSAGE_RUN_CHARS = 1000;

/**
 * A whole message with every whitespace-free run longer than 1000 characters cut by quote(): the last guard
 * of what reaches the terminal, for messages built from a crafted value elsewhere.
 */
export function capMessage(message: string): string {
  if (message.length <= MESSAGE_RUN_CHARS) return message;
  return message.replace(/\S{1001,}/g, (run) => quote(run));
}

/**
 * JSON.parse, refusing JSON that nests deeper than MAX_JSON_DEPTH (an Error saying so, for the caller to
 * name its file): V8 parses any depth, but what walks the value afterwards (JSON.stringify, validation) recurses.
 */
export function parseJsonBounded(text: string): unknown {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new Error(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
  return JSON.parse(text);
}
