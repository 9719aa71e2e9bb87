// The schools, loaded once and shared: their names for tables and their
// time zones for every time shown. A page that changes schools reloads them.

import { computed, reactive } from 'vue';
import { api } from '../api/client.js';
import { DEFAULT_TIME_ZONE } from './format.js';
import { useSession } from './session.js';

const state = reactive({ list: [], loaded: false });
let loading = null;

async function load(force = false) {
  if (state.loaded && !force) return state.list;
  if (!loading || force) {
    loading = api.schools().then((list) => {
      state.list = list;
      state.loaded = true;
      return list;
    }).finally(() => {
      loading = null;
    });
  }
  return loading;
}

function byId(id) {
  return state.list.find((s) => s.id === id) || null;
}

export function useSchools() {
  const { user } = useSession();
  /** The zone of the signed-in person's school, else the group's first school, else Beijing time. */
  const defaultTimeZone = computed(() => {
    const own = user.value && user.value.school_id ? byId(user.value.school_id) : null;
    const first = state.list.find((s) => s.kind !== 'partner');
    return (own && own.time_zone) || (first && first.time_zone) || DEFAULT_TIME_ZONE;
  });
  return {
    state,
    load,
    byId,
    name: (id) => (byId(id) || {}).name || '',
    timeZoneOf: (id) => (byId(id) || {}).time_zone || defaultTimeZone.value,
    defaultTimeZone,
  };
}
