// One route per page (src/pages). `meta.nav` names the header item the page
// belongs to (exactly one is highlighted); `meta.public` pages open without
// signing in; `meta.admin` pages are for administrators (the server checks
// again, this only keeps the links honest).

import { createRouter, createWebHashHistory } from 'vue-router';
import { useSession } from './composables/session.js';

const routes = [
  { path: '/', name: 'wall', component: () => import('./pages/WallPage.vue'), meta: { nav: 'live' } },
  { path: '/watch/:id', name: 'watch', component: () => import('./pages/WatchPage.vue'), meta: { nav: 'live' } },
  { path: '/recordings', name: 'recordings', component: () => import('./pages/RecordingsPage.vue'), meta: { nav: 'recordings' } },
  // The old per-classroom list: the recordings page filtered to one classroom.
  { path: '/recordings/:id', redirect: (to) => ({ name: 'recordings', query: { classroom: to.params.id } }) },
  { path: '/recording/:id', name: 'recording', component: () => import('./pages/RecordingPage.vue'), meta: { nav: 'recordings' } },
  { path: '/interactive', name: 'interactive-list', component: () => import('./pages/InteractiveListPage.vue'), meta: { nav: 'interactive' } },
  { path: '/interactive/:id', name: 'interactive', component: () => import('./pages/InteractivePage.vue'), meta: { nav: 'interactive' } },
  { path: '/classrooms', name: 'classrooms', component: () => import('./pages/ClassroomsPage.vue'), meta: { nav: 'classrooms', admin: true } },
  { path: '/classrooms/:id', name: 'classroom', component: () => import('./pages/ClassroomPage.vue'), meta: { nav: 'classrooms', admin: true } },
  { path: '/admin/users', name: 'users', component: () => import('./pages/UsersPage.vue'), meta: { nav: 'users', admin: true } },
  { path: '/admin/schools', name: 'schools', component: () => import('./pages/SchoolsPage.vue'), meta: { nav: 'schools', admin: true } },
  { path: '/admin/audit', name: 'audit', component: () => import('./pages/AuditPage.vue'), meta: { nav: 'audit', admin: true } },
  // Public: the stream key in the address is the credential, as for OBS.
  { path: '/publish', name: 'publish', component: () => import('./pages/PublishPage.vue'), meta: { public: true, nav: 'classrooms' } },
  { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true } },
  { path: '/setup', name: 'setup', component: () => import('./pages/SetupPage.vue'), meta: { public: true } },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue'), meta: { public: true } },
];

export const router = createRouter({
  history: createWebHashHistory(),
  routes,
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  const session = useSession();
  if (!session.state.checked || !session.state.user) {
    try {
      await session.refresh();
    } catch {
      // The server cannot be reached: show the page, which says so.
      return true;
    }
  }
  if (!session.state.user) return { name: 'login', query: { next: to.fullPath } };
  return true;
});

// An address typed or pasted with only a new "#/…" (or a plain link into
// the app) changes the hash without the history entry vue-router watches:
// follow it, as the old UI did.
window.addEventListener('hashchange', () => {
  const path = location.hash.replace(/^#/, '') || '/';
  if (path !== router.currentRoute.value.fullPath) router.replace(path);
});
