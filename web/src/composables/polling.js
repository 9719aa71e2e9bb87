// Runs `fn` now and again `intervalMs` after each run finishes, while the
// component lives. An answer from the server (an ApiError of any kind other
// than offline) is not "offline"; only an unreachable server is.

import { onBeforeUnmount, ref } from 'vue';
import { ApiError } from '../api/client.js';

export function usePolling(fn, intervalMs) {
  const offline = ref(false);
  const error = ref(null);
  let stopped = false;
  let timer = null;

  async function tick() {
    if (stopped) return;
    try {
      await fn();
      offline.value = false;
      error.value = null;
    } catch (e) {
      offline.value = !(e instanceof ApiError) || e.kind === 'offline';
      error.value = e;
    } finally {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    }
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
  }

  /** Runs again now (e.g. after a change), keeping the rhythm afterwards. */
  function now() {
    clearTimeout(timer);
    return tick();
  }

  tick();
  onBeforeUnmount(stop);
  return { offline, error, stop, now };
}
