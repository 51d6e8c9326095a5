/** Longest excerpt of received text kept for a log line or `tandem status`. */
const EXCERPT_CHARS = 160;

/** `text` with control characters escaped (\r\n stay visible), cut at `max` characters. */
export function printable(text: string, max = EXCERPT_CHARS): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = JSON.stringify(cut).slice(1, -1);
  return text.length > max ? `${escaped}… (${text.length - max} more characters)` : escaped;
}
