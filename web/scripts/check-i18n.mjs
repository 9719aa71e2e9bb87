// Fails the build when a message is missing: both catalogues (which the
// server also compiles in, for API errors) must have the same keys, every
// literal key the UI asks for must exist, and for keys built from data
// (`role.${r}`) every value the code can produce must exist.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const catalogues = Object.fromEntries(
  readdirSync(join(web, 'i18n')).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(readFileSync(join(web, 'i18n', f), 'utf8'))]),
);
const problems = [];
const names = Object.keys(catalogues);
for (const a of names) {
  for (const b of names) {
    const missing = Object.keys(catalogues[b]).filter((k) => !(k in catalogues[a]));
    if (missing.length) problems.push(`${a} lacks keys that ${b} has: ${missing.join(', ')}`);
  }
}
const keys = new Set(Object.keys(catalogues[names[0]]));

// Values each data-built key can take; a new enum value must be added here and to the catalogue.
const ENUMS = {
  'state.': ['idle', 'live', 'signal_lost'],
  'recordings.status.': ['recording', 'complete', 'interrupted'],
  'library.state.': ['draft', 'review_teaching_group', 'review_school', 'review_resource_center', 'rejected', 'published', 'unpublished'],
  'library.step.': ['probing', 'loudness', 'transcoding', 'preview', 'publishing'],
  'library.decision.': ['submit', 'approve', 'reject', 'unpublish', 'feature', 'unfeature'],
  'library.level.': ['teaching_group', 'school', 'resource_center'],
  'library.attachment_kind.': ['task_sheet', 'slides', 'exercises', 'other'],
  'stats.col.': ['lesson', 'school', 'knowledge_point'],
  'role.': ['system_admin', 'school_admin', 'resource_staff', 'reviewer', 'teacher', 'classroom_device', 'viewer'],
  'review_level.': ['teaching_group', 'school', 'resource_center'],
  'school_kind.': ['campus', 'partner', 'group'],
  'source.kind.': ['rtmp', 'srt', 'whip', 'rtsp', 'test'],
  'publish.status.': ['idle', 'previewing', 'connecting', 'live', 'error'],
  'publish.error.': ['denied', 'no_device', 'blocked', 'lost', 'server'],
  'interactive.kind.': ['delivery', 'master_teacher', 'school_network', 'research'],
  'interactive.state.': ['scheduled', 'live', 'ended'],
  'interactive.': ['start_failed', 'end_failed', 'mute_failed', 'speak_failed'],
  'source.role.': ['teacher', 'students', 'blackboard', 'screen', 'other'],
  // Looked up with has() first, so optional: problem., sso_error., audit., recording.gap_reason., audit.kind.
};
const OPTIONAL = ['problem.', 'sso_error.', 'audit.', 'recording.gap_reason.', 'audit.kind.'];

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    return statSync(path).isDirectory() ? files(path) : /\.(vue|js)$/.test(f) ? [path] : [];
  });
}
for (const file of files(join(web, 'src'))) {
  const text = readFileSync(file, 'utf8');
  const where = relative(web, file);
  for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z0-9_.-]+)'/g)) {
    if (!keys.has(m[1])) problems.push(`${where}: no message for '${m[1]}'`);
  }
  for (const m of text.matchAll(/\bt\(\s*`([a-zA-Z0-9_.-]*)\$\{/g)) {
    const prefix = m[1];
    if (ENUMS[prefix]) {
      for (const value of ENUMS[prefix]) if (!keys.has(prefix + value)) problems.push(`${where}: no message for '${prefix}${value}'`);
    } else if (!OPTIONAL.includes(prefix)) {
      problems.push(`${where}: key built from data with prefix '${prefix}': list its values in scripts/check-i18n.mjs`);
    }
  }
}
// The audit page names every action it offers as a filter.
const audit = readFileSync(join(web, 'src/pages/AuditPage.vue'), 'utf8').match(/const ACTIONS = \[([\s\S]*?)\];/);
if (audit) {
  for (const m of audit[1].matchAll(/'([a-z_]+)'/g)) if (!keys.has(`audit.${m[1]}`)) problems.push(`AuditPage.vue: no message for 'audit.${m[1]}'`);
}
if (problems.length) {
  console.error(`i18n check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`i18n: ${keys.size} keys in ${names.length} catalogues, every key the UI uses is present`);
