// One route per page (src/pages). `meta.nav` names the header item the page
// belongs to (exactly one is highlighted); `meta.public` pages open without
// signing in; `meta.admin` pages are for administrators (`'system'`: the
// group's only), and anyone else gets "no permission" at that address
// rather than a page whose every request the server refuses.

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
  { path: '/library', name: 'library', component: () => import('./pages/LibraryPage.vue'), meta: { nav: 'library' } },
  { path: '/library/mine', name: 'my-lessons', component: () => import('./pages/MyLessonsPage.vue'), meta: { nav: 'library' } },
  { path: '/library/queue', name: 'review-queue', component: () => import('./pages/ReviewQueuePage.vue'), meta: { nav: 'library' } },
  { path: '/library/stats', name: 'library-stats', component: () => import('./pages/LibraryStatsPage.vue'), meta: { nav: 'library' } },
  { path: '/library/points', name: 'knowledge-points', component: () => import('./pages/KnowledgePointsPage.vue'), meta: { nav: 'library' } },
  { path: '/library/lessons/:id', name: 'lesson', component: () => import('./pages/LessonPage.vue'), meta: { nav: 'library' } },
  { path: '/classrooms', name: 'classrooms', component: () => import('./pages/ClassroomsPage.vue'), meta: { nav: 'classrooms', admin: true } },
  { path: '/classrooms/:id', name: 'classroom', component: () => import('./pages/ClassroomPage.vue'), meta: { nav: 'classrooms', admin: true } },
  { path: '/admin/users', name: 'users', component: () => import('./pages/UsersPage.vue'), meta: { nav: 'users', admin: true } },
  { path: '/admin/schools', name: 'schools', component: () => import('./pages/SchoolsPage.vue'), meta: { nav: 'schools', admin: 'system' } },
  { path: '/admin/audit', name: 'audit', component: () => import('./pages/AuditPage.vue'), meta: { nav: 'audit', admin: true } },
  // Public: the stream key in the address is the credential, as for OBS.
  { path: '/publish', name: 'publish', component: () => import('./pages/PublishPage.vue'), meta: { public: true, nav: 'classrooms' } },
  { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true } },
  { path: '/setup', name: 'setup', component: () => import('./pages/SetupPage.vue'), meta: { public: true } },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue'), meta: { public: true } },
  // Only reached by name, from the guard below: the same pattern as
  // not-found, so the address stays the one that was opened.
  { path: '/:denied(.*)*', name: 'forbidden', component: () => import('./pages/ForbiddenPage.vue') },
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
  const admin = to.meta.admin === 'system' ? session.isSystemAdmin.value : session.isAdmin.value;
  if (to.meta.admin && !admin) {
    return { name: 'forbidden', params: { denied: to.path.slice(1).split('/') }, query: to.query, hash: to.hash, replace: true };
  }
  return true;
});

// An address typed or pasted with only a new "#/…" (or a plain link into
// the app) changes the hash without the history entry vue-router watches:
// follow it, as the old UI did.
window.addEventListener('hashchange', () => {
  const path = location.hash.replace(/^#/, '') || '/';
  if (path !== router.currentRoute.value.fullPath) router.replace(path);
});
