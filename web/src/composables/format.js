// Formatting of durations, times, sizes and bitrates. Every time is shown
// in the school's time zone (default Asia/Shanghai), 24-hour, as
// YYYY-MM-DD HH:mm in both languages, so a title and a table agree
// whatever the browser's own zone is.

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

const formatters = new Map();

function parts(date, timeZone) {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      formatter = parts.fallback || (parts.fallback = new Intl.DateTimeFormat('en-CA', { timeZone: DEFAULT_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }));
    }
    formatters.set(timeZone, formatter);
  }
  const out = {};
  for (const part of formatter.formatToParts(date)) out[part.type] = part.value;
  return out;
}

/** "2026-12-02 21:58" in `timeZone`. */
export function formatDateTime(iso, timeZone = DEFAULT_TIME_ZONE, { seconds = false } = {}) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const p = parts(date, timeZone || DEFAULT_TIME_ZONE);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ''}`;
}

/** "2026-12-02" in `timeZone`. */
export function formatDate(iso, timeZone = DEFAULT_TIME_ZONE) {
  return formatDateTime(iso, timeZone).slice(0, 10);
}

/** mm:ss under an hour, h:mm:ss above: 75 000 ms → "01:15"; 3 723 000 ms → "1:02:03". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const ss = String(total % 60).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${ss}`;
  return `${String(minutes).padStart(2, '0')}:${ss}`;
}

/**
 * Seconds on a player's timeline to the tenth, as a cutting tool shows
 * them: formatDuration's mm:ss (h:mm:ss above an hour) and one decimal.
 * 75.34 → "01:15.3"; 3723 → "1:02:03.0".
 */
export function formatTenths(seconds) {
  // Tenths first, so 59.96 becomes 01:00.0 rather than 00:59.10.
  const tenths = Math.round(Math.max(0, Number(seconds) || 0) * 10);
  return `${formatDuration(tenths * 100)}.${tenths % 10}`;
}

/** Bytes as "12.3 MB" / "1.2 GB". */
export function formatSize(bytes) {
  let value = Number(bytes) || 0;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** Bits per second as Mbps with one decimal ("2.7"), or two below 1 Mbps ("0.75"). */
export function formatMbps(bitsPerSecond) {
  const mbps = (Number(bitsPerSecond) || 0) / 1e6;
  return mbps >= 1 ? mbps.toFixed(1) : mbps.toFixed(2);
}

/**
 * The instant that is `date` (a YYYY-MM-DD day) at 00:00 in `timeZone`, as
 * an ISO string: how a date picker's day becomes a filter bound.
 */
export function startOfDay(day, timeZone = DEFAULT_TIME_ZONE) {
  if (!day) return null;
  const [y, m, d] = day.split('-').map(Number);
  // Guess UTC midnight, then correct by the zone's offset at that instant.
  const guess = Date.UTC(y, m - 1, d);
  const p = parts(new Date(guess), timeZone);
  const asIfUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return new Date(guess - (asIfUtc - guess)).toISOString();
}
