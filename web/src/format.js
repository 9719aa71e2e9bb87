// Formatting of durations, times, sizes and bitrates for display.

import { language } from './i18n.js';

/** mm:ss under an hour, h:mm:ss above: 75 000 ms → "01:15"; 3 723 000 ms → "1:02:03". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${ss}`;
  return `${String(minutes).padStart(2, '0')}:${ss}`;
}

/** An ISO timestamp as a local date and time in the UI language. */
export function formatDateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(language(), {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(date);
}

/** Bytes as "12.3 MB" / "1.2 GB". */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
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
