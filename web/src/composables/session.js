// Who is signed in, shared by every page: the user (a Principal: id,
// username, school_id, roles as [role, review_level] pairs), and what the
// roles allow, so controls a role cannot use are not shown at all. The
// server decides every request anyway; this only keeps the UI honest.

import { computed, reactive } from 'vue';
import { api, ApiError, onSignedOut, setCsrfToken } from '../api/client.js';

const state = reactive({ user: null, checked: false });

function roles() {
  return (state.user && state.user.roles ? state.user.roles : []).map((grant) => (Array.isArray(grant) ? grant[0] : grant.role));
}

const isSystemAdmin = computed(() => roles().includes('system_admin'));
const isSchoolAdmin = computed(() => roles().includes('school_admin'));
const isAdmin = computed(() => isSystemAdmin.value || isSchoolAdmin.value);

/** Administers `schoolId`: the group's admins everywhere, a school's admins there. */
function administers(schoolId) {
  if (isSystemAdmin.value) return true;
  return isSchoolAdmin.value && !!state.user && state.user.school_id === schoolId;
}

function hasRole(role) {
  return roles().includes(role);
}
const schoolId = computed(() => (state.user ? state.user.school_id : null));

// As auth::policy::library::can_create_lesson: teachers (for their own
// school, which the server checks) and library staff draft micro-lessons.
const canCreateLessons = computed(() => hasRole('teacher') || hasRole('resource_staff') || isSystemAdmin.value);

/** Asks the server who we are; null when nobody is signed in. */
async function refresh() {
  try {
    const data = await api.session();
    setCsrfToken(data.csrf_token);
    state.user = data.user;
  } catch (error) {
    if (!(error instanceof ApiError) || error.kind !== 'unauthorized') {
      state.checked = true;
      throw error;
    }
    setCsrfToken('');
    state.user = null;
  }
  state.checked = true;
  return state.user;
}

async function signIn(username, password) {
  const data = await api.signIn(username, password);
  setCsrfToken(data.csrf_token);
  state.user = data.user;
  return state.user;
}

async function signOut() {
  try {
    await api.signOut();
  } finally {
    setCsrfToken('');
    state.user = null;
  }
}

// A 401 from any page means the session ended (expired, revoked, signed
// out elsewhere): forget the user; the router then shows the sign-in page.
onSignedOut(() => {
  setCsrfToken('');
  state.user = null;
});

export function useSession() {
  return {
    state,
    user: computed(() => state.user),
    signedIn: computed(() => !!state.user),
    isSystemAdmin,
    isSchoolAdmin,
    isAdmin,
    administers,
    hasRole,
    schoolId,
    canCreateLessons,
    refresh,
    signIn,
    signOut,
  };
}
