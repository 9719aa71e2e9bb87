// Uploads one file with tus-js-client, the reference tus client, for the
// Rust upload tests and benches/tus_upload.sh. Not a node:test file.
//
//   node web/tests/tus_upload.mjs --endpoint URL --file PATH --token TOKEN
//        [--upload-url URL] [--chunk-size BYTES] [--die-after BYTES]
//        [--retry-for-seconds N] [--no-creation-with-upload]
//
// Prints one JSON object per line: {"event":"created","url"},
// {"event":"progress","sent","total"} (every 5%), then {"event":"success"}
// or {"event":"error","status","body","message"} (exit code 1).
// --die-after kills this process (SIGKILL) once that many bytes are sent:
// a client cut off mid-request, as on a flaky school network.
import fs from 'node:fs';
import { Upload } from 'tus-js-client';

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const key = process.argv[i].replace(/^--/, '');
  const next = process.argv[i + 1];
  if (next === undefined || next.startsWith('--')) args[key] = true;
  else { args[key] = next; i++; }
}
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const size = fs.statSync(args.file).size;
const retryFor = Number(args['retry-for-seconds'] ?? 0) * 1000;
const retryDelays = [];
for (let t = 0; t < retryFor; t += 1000) retryDelays.push(1000);

let reported = -1;
const upload = new Upload(fs.createReadStream(args.file), {
  endpoint: args.endpoint,
  uploadUrl: args['upload-url'] || null,
  chunkSize: args['chunk-size'] ? Number(args['chunk-size']) : Infinity,
  uploadDataDuringCreation: !args['no-creation-with-upload'],
  uploadSize: size,
  headers: { Authorization: `Bearer ${args.token}` },
  metadata: { filename: args.file.split('/').pop(), filetype: 'video/mp4' },
  retryDelays,
  storeFingerprintForResuming: false,
  onUploadUrlAvailable() {
    say({ event: 'created', url: upload.url });
  },
  onProgress(sent, total) {
    const step = Math.floor((sent / total) * 20);
    if (step !== reported) {
      reported = step;
      say({ event: 'progress', sent, total });
    }
    if (args['die-after'] && sent >= Number(args['die-after'])) {
      say({ event: 'dying', sent });
      process.kill(process.pid, 'SIGKILL');
    }
  },
  onSuccess() {
    say({ event: 'success', url: upload.url });
  },
  onError(error) {
    const res = error.originalResponse;
    say({
      event: 'error',
      status: res ? res.getStatus() : null,
      body: res ? res.getBody() : null,
      message: String(error.message || error),
    });
    process.exitCode = 1;
  },
});
upload.start();
