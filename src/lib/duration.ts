// Durations as tandem.yaml writes them, with a unit: `100ms`, `2s`, `1.5s`, `5m`, `1h`;
// resolution 1 ms. The pattern bounds the digits, so every match is finite.

/** The configuration schema's pattern of a duration. */
export const durationPattern = '^[0-9]{1,9}(\\.[0-9]{1,3})?(ms|s|m|h)$';

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const durationRegex = new RegExp(durationPattern);

/** Milliseconds, or undefined for text that is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!durationRegex.test(text)) return undefined;
  const unit = /[a-z]+$/.exec(text)?.[0] ?? '';
  return Math.round(parseFloat(text) * (unitMs[unit] ?? NaN));
}

/** The shortest exact form the configuration takes (parseDuration reads it back): `2s`, `1m`, `1500ms`. */
export function formatConfigDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A duration for people to read: `12 ms`, `1.5 s`, `3 min 2 s`, `1 h 2 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}
