// ClassCast UI: a hash router over four pages.
//   #/                          live wall (every classroom, polled every 3 s)
//   #/watch/{classroomId}       live player with quality menu
//   #/recordings/{classroomId}  a classroom's recordings
//   #/recording/{recordingId}   recording player with its signal-lost stretches
//   #/login                     sign-in (shown whenever the API says 401)
//   #/setup?code=…              the first administrator, with the code the server printed
//   #/admin/users               users and their roles (school and system admins)
//   #/admin/schools             schools and campuses
//   #/admin/audit               the audit log
// Every page is a function (root, params) → cleanup; the cleanup stops its
// timers and players when the route or the language changes.

import { api, ApiError } from './api.js';
import { h, replaceChildren, setText } from './dom.js';
import { formatDateTime, formatDuration, formatSize } from './format.js';
import { has, initialLanguage, language, setLanguage, t, translateStatic } from './i18n.js';
import { createPlayer } from './player.js';

const WALL_POLL_MS = 3000;
const THUMBNAIL_REFRESH_MS = 5000;
const WATCH_POLL_MS = 3000;
const RECORDINGS_POLL_MS = 5000;

const root = document.getElementById('app');
const banner = document.getElementById('banner');
let cleanup = null;
// Set when the server says nobody is signed in; pages then go to #/login.
let signedOut = false;

// ---------------------------------------------------------------- helpers

/** Runs `fn` now and then `intervalMs` after each run finishes, until stopped. */
function poll(fn, intervalMs) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      await fn();
      showOffline(false);
    } catch (error) {
      // An ApiError is an answer (the server is up); anything else means it could not be reached.
      showOffline(!(error instanceof ApiError));
      console.warn('poll failed', error);
    } finally {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function showOffline(offline) {
  banner.hidden = !offline;
  if (offline) banner.textContent = t('common.offline');
}

function stateBadge(state) {
  const el = h('span', { class: 'badge' });
  updateStateBadge(el, state);
  return el;
}

function updateStateBadge(el, state) {
  const known = ['idle', 'live', 'signal_lost'].includes(state) ? state : 'idle';
  el.dataset.state = known;
  el.className = `badge state-badge badge-${known}`;
  setText(el, t(`state.${known}`));
}

function statusBadge(status) {
  const known = ['recording', 'complete', 'interrupted'].includes(status) ? status : 'complete';
  return h('span', { class: `badge status-badge badge-${known}`, dataset: { status: known } }, t(`recordings.status.${known}`));
}

function problemText(problem) {
  if (!problem) return '';
  return has(`problem.${problem}`) ? t(`problem.${problem}`) : problem;
}

function liveFor(live) {
  const since = Date.parse(live && live.live_since);
  return Number.isNaN(since) ? '' : t('live.since', { duration: formatDuration(Date.now() - since) });
}

function liveStats(live) {
  if (!live || live.state !== 'live' || !live.ingest_kbps) return '';
  return t('live.stats', { kbps: live.ingest_kbps, fps: Math.round(live.fps || 0), viewers: live.viewers || 0 });
}

function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), t('app.title')].join(' · ');
}

function messagePage(el, text) {
  replaceChildren(el, h('section', { class: 'message-page' }, h('p', {}, text), h('a', { class: 'btn', href: '#/' }, t('watch.back'))));
}

function backLink(href, key) {
  return h('a', { class: 'back', href }, h('span', { 'aria-hidden': 'true' }, '← '), t(key));
}

// ---------------------------------------------------------------- live wall

function wallPage(el) {
  setTitle(t('nav.live'));
  const summary = h('p', { class: 'page-summary' }, t('common.loading'));
  const grid = h('div', { class: 'wall-grid', id: 'wall' });
  const empty = h('p', { class: 'empty', hidden: true }, t('wall.empty'));
  const cards = new Map(); // classroom id → card

  replaceChildren(
    el,
    h('section', { class: 'wall' },
      h('div', { class: 'page-head' }, h('h1', {}, t('nav.live')), summary),
      grid,
      empty,
      newClassroomForm(() => refresh()),
    ),
  );

  async function refresh() {
    const classrooms = await api.classrooms();
    const seen = new Set();
    let liveCount = 0;
    classrooms.forEach((classroom, index) => {
      seen.add(classroom.id);
      let card = cards.get(classroom.id);
      if (!card) {
        card = makeCard(classroom.id);
        cards.set(classroom.id, card);
      }
      card.update(classroom);
      if (grid.children[index] !== card.el) grid.insertBefore(card.el, grid.children[index] || null);
      if (classroom.live && classroom.live.state === 'live') liveCount += 1;
    });
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.el.remove();
        cards.delete(id);
      }
    }
    empty.hidden = classrooms.length > 0;
    setText(summary, t('wall.summary', { total: classrooms.length, live: liveCount }));
  }

  const stopPoll = poll(refresh, WALL_POLL_MS);
  const thumbTimer = setInterval(() => {
    for (const card of cards.values()) card.refreshThumbnail();
  }, THUMBNAIL_REFRESH_MS);
  return () => {
    stopPoll();
    clearInterval(thumbTimer);
  };
}

function makeCard(id) {
  const watchHref = `#/watch/${encodeURIComponent(id)}`;
  const img = h('img', { class: 'thumb-img', alt: '', decoding: 'async', hidden: true });
  const placeholder = h('div', { class: 'thumb-placeholder' }, t('wall.no_picture'));
  const badge = stateBadge('idle');
  const title = h('h2', { class: 'card-title' });
  const meta = h('p', { class: 'card-meta' });
  const problem = h('p', { class: 'card-problem', hidden: true });
  const el = h('article', { class: 'card classroom-card', dataset: { classroomId: id } },
    h('a', { class: 'thumb', href: watchHref, tabindex: '-1', 'aria-hidden': 'true' }, img, placeholder, badge),
    h('div', { class: 'card-body' },
      title,
      meta,
      problem,
      h('div', { class: 'card-actions' },
        h('a', { class: 'btn btn-primary watch-link', href: watchHref }, t('wall.watch')),
        h('a', { class: 'btn recordings-link', href: `#/recordings/${encodeURIComponent(id)}` }, t('nav.recordings')),
      ),
    ),
  );

  let thumbnailUrl = null;
  let state = 'idle';
  let loading = false;

  // Load the next picture off-screen and swap it in, so the card never flashes empty.
  function refreshThumbnail(force = false) {
    if (!thumbnailUrl || (state !== 'live' && !force) || loading) return;
    const url = `${thumbnailUrl}${thumbnailUrl.includes('?') ? '&' : '?'}t=${Date.now()}`;
    const next = new Image();
    loading = true;
    next.onload = () => {
      loading = false;
      img.src = url;
      img.hidden = false;
      placeholder.hidden = true;
    };
    next.onerror = () => {
      loading = false;
    };
    next.src = url;
  }

  function update(classroom) {
    const live = classroom.live || { state: 'idle' };
    const wasLive = state === 'live';
    state = live.state;
    el.dataset.state = state;
    updateStateBadge(badge, state);
    setText(title, classroom.name);
    img.alt = classroom.name;
    setText(meta, state === 'idle' ? '' : [liveFor(live), liveStats(live)].filter(Boolean).join(' · '));
    meta.hidden = state === 'idle';
    const problemMessage = problemText(live.problem);
    setText(problem, problemMessage);
    problem.hidden = !problemMessage;

    const newUrl = classroom.thumbnail_url || null;
    if (!newUrl) {
      thumbnailUrl = null;
      img.hidden = true;
      img.removeAttribute('src');
      placeholder.hidden = false;
    } else if (newUrl !== thumbnailUrl || (state === 'live' && !wasLive)) {
      thumbnailUrl = newUrl;
      refreshThumbnail(true);
    }
  }

  return { el, update, refreshThumbnail: () => refreshThumbnail() };
}

function newClassroomForm(onCreated) {
  const input = h('input', { type: 'text', name: 'name', maxlength: '200', required: true, autocomplete: 'off', id: 'new-classroom-name' });
  const fieldError = h('p', { class: 'field-error', hidden: true });
  const formError = h('p', { class: 'form-error', hidden: true });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, t('classrooms.create'));
  const form = h('form', { class: 'new-classroom-form', novalidate: true },
    h('label', { for: 'new-classroom-name' }, t('classrooms.name')),
    h('div', { class: 'form-row' }, input, button),
    fieldError,
    formError,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fieldError.hidden = true;
    formError.hidden = true;
    button.disabled = true;
    try {
      await api.createClassroom(input.value);
      input.value = '';
      details.open = false;
      await onCreated();
    } catch (error) {
      if (error instanceof ApiError && error.fields && error.fields.name) {
        fieldError.textContent = error.fields.name;
        fieldError.hidden = false;
      } else {
        formError.textContent = error instanceof ApiError ? error.message : t('common.offline');
        formError.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  });
  const details = h('details', { class: 'new-classroom' }, h('summary', {}, t('classrooms.new')), form);
  return details;
}

// ---------------------------------------------------------------- watch page

function watchPage(el, { id }) {
  const video = h('video', { id: 'player', muted: true, autoplay: true, playsinline: true, controls: true });
  video.muted = true; // the attribute alone does not mute a script-created element
  const overlay = h('div', { class: 'player-overlay' }, t('common.loading'));
  const quality = h('select', { id: 'quality', disabled: true }, h('option', { value: '-1' }, t('watch.auto')));
  const title = h('h1', {}, '');
  const badge = stateBadge('idle');
  const notice = h('p', { class: 'notice', hidden: true });
  const stats = h('span', { class: 'player-stats' });

  replaceChildren(
    el,
    h('section', { class: 'watch' },
      backLink('#/', 'watch.back'),
      h('div', { class: 'page-head' }, h('div', { class: 'title-row' }, title, badge)),
      h('div', { class: 'player-wrap' }, video, overlay),
      notice,
      h('div', { class: 'player-bar' },
        h('label', { class: 'quality' }, h('span', {}, t('watch.quality')), quality),
        stats,
        h('a', { class: 'btn', href: `#/recordings/${encodeURIComponent(id)}` }, t('watch.recordings_link')),
      ),
    ),
  );

  let player = null;
  let playerUrl = null;
  let playerStatus = 'loading';
  let state = 'idle';

  function showOverlay(text) {
    overlay.hidden = !text;
    setText(overlay, text || '');
  }

  function renderNotice(problem) {
    const parts = [];
    if (state === 'signal_lost') parts.push(t('watch.signal_lost'));
    else if (playerStatus === 'error') parts.push(t('watch.playback_error'));
    if (problem) parts.push(problemText(problem));
    const text = parts.join(' · ');
    setText(notice, text);
    notice.hidden = !text;
  }

  function stopPlayer() {
    if (player) player.destroy();
    player = null;
    playerUrl = null;
  }

  let lastProblem = null;
  function onStatus(status) {
    playerStatus = status;
    if (status === 'playing') showOverlay('');
    else if (status === 'unsupported') showOverlay(t('watch.unsupported'));
    else if (status === 'loading' && video.paused) showOverlay(t('watch.connecting'));
    renderNotice(lastProblem);
  }

  async function refresh() {
    let classroom;
    try {
      classroom = await api.classroom(id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        stopPlayer();
        stopPoll();
        messagePage(el, t('error.not_found'));
        return;
      }
      throw error;
    }
    const live = classroom.live || { state: 'idle' };
    state = live.state;
    lastProblem = live.problem;
    setTitle(classroom.name);
    setText(title, classroom.name);
    updateStateBadge(badge, state);
    setText(stats, [liveFor(live), liveStats(live)].filter(Boolean).join(' · '));

    if (classroom.hls_url && state !== 'idle') {
      if (playerUrl !== classroom.hls_url) {
        stopPlayer();
        playerUrl = classroom.hls_url;
        // A tokened URL: the player's requests are checked without a
        // database lookup each, and it works as a plain link too.
        const { url } = await api.livePlayback(id);
        if (left || playerUrl !== classroom.hls_url) return; // the page moved on meanwhile
        player = createPlayer(video, url, { live: true, quality, onStatus });
      }
    } else {
      stopPlayer();
      quality.replaceChildren(h('option', { value: '-1' }, t('watch.auto')));
      quality.disabled = true;
      playerStatus = 'loading';
      showOverlay(t('watch.not_live'));
    }
    renderNotice(live.problem);
  }

  let left = false;
  const stopPoll = poll(refresh, WATCH_POLL_MS);
  return () => {
    left = true;
    stopPoll();
    stopPlayer();
  };
}

// ---------------------------------------------------------------- recordings list

function recordingsPage(el, { id }) {
  const heading = h('h1', {}, t('recordings.title'));
  const tbody = h('tbody');
  const table = h('table', { class: 'table recordings-table', hidden: true },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, t('recordings.col.title')),
      h('th', { scope: 'col' }, t('recordings.started')),
      h('th', { scope: 'col', class: 'num' }, t('recordings.duration')),
      h('th', { scope: 'col', class: 'num' }, t('recordings.size')),
      h('th', { scope: 'col' }, t('recordings.col.status')),
    )),
    tbody,
  );
  const empty = h('p', { class: 'empty' }, t('common.loading'));

  replaceChildren(
    el,
    h('section', { class: 'recordings' },
      backLink('#/', 'watch.back'),
      h('div', { class: 'page-head' }, heading,
        h('a', { class: 'btn btn-primary', href: `#/watch/${encodeURIComponent(id)}` }, t('wall.watch'))),
      h('div', { class: 'table-wrap' }, table),
      empty,
    ),
  );

  let nameLoaded = false;
  let lastJson = '';

  async function refresh() {
    if (!nameLoaded) {
      try {
        const classroom = await api.classroom(id);
        setText(heading, t('recordings.heading', { name: classroom.name }));
        setTitle(classroom.name, t('recordings.title'));
        nameLoaded = true;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          stopPoll();
          messagePage(el, t('error.not_found'));
          return;
        }
        throw error;
      }
    }
    const recordings = await api.recordings(id);
    const json = JSON.stringify(recordings);
    if (json === lastJson) return;
    lastJson = json;
    recordings.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
    tbody.replaceChildren(...recordings.map(recordingRow));
    table.hidden = recordings.length === 0;
    empty.hidden = recordings.length > 0;
    setText(empty, t('recordings.empty'));
  }

  const stopPoll = poll(refresh, RECORDINGS_POLL_MS);
  return stopPoll;
}

function recordingRow(recording) {
  const href = `#/recording/${encodeURIComponent(recording.id)}`;
  const row = h('tr', { class: 'clickable', dataset: { recordingId: recording.id } },
    h('td', { 'data-label': t('recordings.col.title') },
      h('a', { href, class: 'recording-link' }, recording.title),
      recording.rolling ? h('span', { class: 'tag' }, t('recordings.rolling')) : null),
    h('td', { 'data-label': t('recordings.started') }, formatDateTime(recording.started_at)),
    h('td', { 'data-label': t('recordings.duration'), class: 'num' }, formatDuration(recording.duration_ms)),
    h('td', { 'data-label': t('recordings.size'), class: 'num' }, formatSize(recording.size_bytes)),
    h('td', { 'data-label': t('recordings.col.status') }, statusBadge(recording.status)),
  );
  // The whole row opens the recording; the title link keeps keyboard and middle-click use.
  row.addEventListener('click', (event) => {
    if (event.target.closest('a')) return;
    location.hash = href;
  });
  return row;
}

// ---------------------------------------------------------------- recording page

function recordingPage(el, { id }) {
  const video = h('video', { id: 'player', autoplay: true, playsinline: true, controls: true, preload: 'auto' });
  const overlay = h('div', { class: 'player-overlay' }, t('common.loading'));
  const quality = h('select', { id: 'quality', disabled: true }, h('option', { value: '-1' }, t('watch.auto')));
  const title = h('h1', {});
  const badgeSlot = h('span');
  const meta = h('p', { class: 'page-summary meta-line' });
  const notes = h('div', { class: 'notes' });
  const back = h('div');
  const gapList = h('ol', { class: 'gap-list', id: 'gaps' });
  const noGaps = h('p', { class: 'empty small', hidden: true }, t('recording.no_gaps'));

  replaceChildren(
    el,
    h('section', { class: 'recording' },
      back,
      h('div', { class: 'page-head' }, h('div', { class: 'title-row' }, title, badgeSlot), meta),
      notes,
      h('div', { class: 'recording-layout' },
        h('div', { class: 'recording-main' },
          h('div', { class: 'player-wrap' }, video, overlay),
          h('div', { class: 'player-bar' }, h('label', { class: 'quality' }, h('span', {}, t('watch.quality')), quality)),
        ),
        h('aside', { class: 'gaps panel' }, h('h2', {}, t('recordings.gaps')), gapList, noGaps),
      ),
    ),
  );

  let player = null;
  let recording = null;
  let timer = null;
  let stopped = false;
  let lastGapsJson = '';

  // Recordings start with sound where the browser allows it (the player falls back to muted).
  video.addEventListener('playing', () => (overlay.hidden = true));

  function render() {
    setTitle(recording.title);
    setText(title, recording.title);
    badgeSlot.replaceChildren(statusBadge(recording.status));
    meta.replaceChildren(
      ...[
        ['recordings.started', formatDateTime(recording.started_at)],
        ['recordings.duration', formatDuration(recording.duration_ms)],
        ['recordings.size', formatSize(recording.size_bytes)],
      ].map(([key, value]) => h('span', { class: 'meta-item' }, h('span', { class: 'meta-label' }, t(key)), value)),
    );
    const noteTexts = [];
    if (recording.status === 'recording') noteTexts.push(t('recording.in_progress'));
    if (recording.rolling) noteTexts.push(t('recording.rolling_note'));
    notes.replaceChildren(...noteTexts.map((text) => h('p', { class: 'notice info' }, text)));

    const gaps = recording.gaps || [];
    const gapsJson = JSON.stringify(gaps);
    if (gapsJson !== lastGapsJson) {
      lastGapsJson = gapsJson;
      gapList.replaceChildren(...gaps.map(gapItem));
      noGaps.hidden = gaps.length > 0;
    }
  }

  function gapItem(gap) {
    const offset = formatDuration(gap.offset_ms);
    const text = gap.duration_ms === null || gap.duration_ms === undefined
      ? t('recording.gap_open')
      : t('recording.gap', { duration: formatDuration(gap.duration_ms) });
    const reason = gap.reason && gap.reason !== 'signal_lost'
      ? h('span', { class: 'tag' }, has(`recording.gap_reason.${gap.reason}`) ? t(`recording.gap_reason.${gap.reason}`) : gap.reason)
      : null;
    return h('li', {},
      h('button', {
        type: 'button',
        class: 'gap-button',
        title: t('recording.seek_hint', { offset }),
        dataset: { offsetMs: String(gap.offset_ms) },
        on: { click: () => player && player.seekToRecordingOffset(gap.offset_ms, recording.started_at) },
      }, h('span', { class: 'gap-time' }, offset), h('span', { class: 'gap-text' }, text), reason),
    );
  }

  async function load() {
    try {
      recording = await api.recording(id);
      showOffline(false);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        messagePage(el, t('error.not_found'));
        return;
      }
      showOffline(true);
      if (!stopped) timer = setTimeout(load, RECORDINGS_POLL_MS);
      return;
    }
    if (stopped) return;
    back.replaceChildren(backLink(`#/recordings/${encodeURIComponent(recording.classroom_id)}`, 'recordings.back'));
    render();
    if (!player && recording.hls_url) {
      const { url } = await api.recordingPlayback(id);
      if (stopped || player) return;
      player = createPlayer(video, url, {
        live: false,
        quality,
        onStatus: (status) => {
          if (status === 'unsupported') {
            overlay.hidden = false;
            overlay.textContent = t('watch.unsupported');
          }
        },
      });
    }
    // While still recording, keep duration and gaps current.
    if (recording.status === 'recording' && !stopped) timer = setTimeout(load, RECORDINGS_POLL_MS);
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (player) player.destroy();
  };
}

// ---------------------------------------------------------------- accounts

function showUser(user) {
  const menu = document.getElementById('user-menu');
  menu.hidden = !user || user.username === 'anonymous';
  for (const link of document.querySelectorAll('[data-admin]')) link.hidden = !isAdmin(user);
  setText(document.getElementById('user-name'), user ? user.username : '');
}

function hashQuery() {
  const query = location.hash.split('?')[1] || '';
  return new URLSearchParams(query);
}

function formField(name, type, labelKey, autocomplete) {
  const input = h('input', { name, type, required: true, autocomplete });
  return [input, h('label', { class: 'field' }, h('span', {}, t(labelKey)), input)];
}

/** A small form page: fields, a submit button and an error line. */
function credentialsPage(root, { title, submitKey, hint, onSubmit }) {
  setTitle(title);
  const [username, usernameField] = formField('username', 'text', 'login.username', 'username');
  const [password, passwordField] = formField('password', 'password', 'login.password', 'current-password');
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t(submitKey));
  const form = h('form', { class: 'login-form' },
    h('h1', {}, title), hint ? h('p', { class: 'hint' }, hint) : null,
    usernameField, passwordField, error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await onSubmit(username.value.trim(), password.value);
    } catch (e) {
      setText(error, e.message);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  username.focus();
}

function loginPage(root) {
  const query = hashQuery();
  credentialsPage(root, {
    title: t('login.title'),
    submitKey: 'login.submit',
    onSubmit: async (username, password) => {
      showUser(await api.signIn(username, password));
      location.hash = query.get('next') || '#/';
    },
  });
  const form = root.querySelector('form');
  const ssoError = query.get('sso_error');
  if (ssoError) {
    const alert = form.querySelector('.form-error');
    setText(alert, has(`sso_error.${ssoError}`) ? t(`sso_error.${ssoError}`) : t('sso_error.refused'));
    alert.hidden = false;
  }
  // The district's unified identity platform, when configured.
  api.sso().then((sso) => {
    if (!sso.enabled) return;
    const next = query.get('next') || '#/';
    form.append(h('p', { class: 'sso' }, h('a', {
      class: 'btn',
      href: `/api/sso/login?next=${encodeURIComponent(next)}`,
    }, t('login.sso', { name: sso.display_name }))));
  }).catch(() => {});
}

function setupPage(root) {
  const code = hashQuery().get('code') || '';
  credentialsPage(root, {
    title: t('setup.title'),
    submitKey: 'setup.submit',
    hint: t('setup.hint'),
    onSubmit: async (username, password) => {
      await api.setup(code, username, password);
      showUser(await api.signIn(username, password));
      location.hash = '#/';
    },
  });
}

// ---------------------------------------------------------------- administration

const ROLES = ['system_admin', 'school_admin', 'resource_staff', 'reviewer', 'teacher', 'classroom_device', 'viewer'];
const REVIEW_LEVELS = ['teaching_group', 'school', 'resource_center'];

function isAdmin(user) {
  return !!user && (user.roles || []).some(([role]) => role === 'system_admin' || role === 'school_admin');
}

function select(name, options, labelKey) {
  const el = h('select', { name }, options.map(([value, text]) => h('option', { value }, text)));
  return [el, h('label', { class: 'field' }, h('span', {}, t(labelKey)), el)];
}

function roleText(grant) {
  const role = t(`role.${grant.role}`);
  return grant.review_level ? `${role}（${t(`review_level.${grant.review_level}`)}）` : role;
}

function adminUsersPage(el) {
  setTitle(t('admin.users'));
  const tbody = h('tbody');
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const [username, usernameField] = formField('username', 'text', 'login.username', 'off');
  const [displayName, displayField] = formField('display_name', 'text', 'admin.display_name', 'off');
  displayName.required = false;
  const [password, passwordField] = formField('password', 'password', 'login.password', 'new-password');
  const [school, schoolField] = select('school_id', [], 'admin.school');
  const [role, roleField] = select('role', ROLES.map((r) => [r, t(`role.${r}`)]), 'admin.role');
  const [level, levelField] = select('review_level', REVIEW_LEVELS.map((l) => [l, t(`review_level.${l}`)]), 'admin.review_level');
  levelField.hidden = true;
  role.value = 'teacher';
  role.addEventListener('change', () => { levelField.hidden = role.value !== 'reviewer'; });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.create_user'));
  const form = h('form', { class: 'admin-form' },
    h('h2', {}, t('admin.create_user')), usernameField, displayField, passwordField, schoolField, roleField, levelField, error, submit);
  let schools = new Map();

  async function load() {
    const [users, schoolList] = await Promise.all([api.users(), api.schools()]);
    schools = new Map(schoolList.map((s) => [s.id, s.name]));
    if (!school.options.length) {
      school.replaceChildren(...schoolList.map((s) => h('option', { value: s.id }, s.name)));
    }
    tbody.replaceChildren(...users.map((u) => h('tr', { dataset: { userId: u.id } },
      h('td', {}, u.username),
      h('td', {}, u.display_name),
      h('td', {}, u.school_id ? (schools.get(u.school_id) || '') : t('admin.whole_group')),
      h('td', {}, u.roles.map(roleText).join('、')),
      h('td', {}, u.disabled ? t('admin.disabled') : t('admin.active')),
      h('td', {}, h('button', {
        type: 'button', class: 'btn',
        on: { click: async () => { await api.updateUser(u.id, { disabled: !u.disabled }); load(); } },
      }, u.disabled ? t('admin.enable') : t('admin.disable'))),
    )));
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const grant = { role: role.value };
      if (role.value === 'reviewer') grant.review_level = level.value;
      await api.createUser({
        username: username.value.trim(),
        display_name: displayName.value.trim(),
        password: password.value,
        school_id: school.value || null,
        roles: [grant],
      });
      form.reset();
      role.value = 'teacher';
      levelField.hidden = true;
      await load();
    } catch (e) {
      const fields = Object.values((e && e.fields) || {});
      setText(error, [e.message, ...fields].join(' '));
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  replaceChildren(el, h('section', { class: 'admin' },
    h('h1', {}, t('admin.users')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table users-table' },
      h('thead', {}, h('tr', {}, ...['login.username', 'admin.display_name', 'admin.school', 'admin.roles', 'admin.status', 'admin.actions']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      tbody)),
    form));
  load().catch((e) => messagePage(el, e.message));
}

function adminSchoolsPage(el) {
  setTitle(t('admin.schools'));
  const list = h('ul', { class: 'school-list' });
  const [name, nameField] = formField('name', 'text', 'admin.school_name', 'off');
  const [kind, kindField] = select('kind', ['campus', 'partner', 'group'].map((k) => [k, t(`school_kind.${k}`)]), 'admin.school_kind');
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'admin-form' }, h('h2', {}, t('admin.create_school')), nameField, kindField, error,
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.create_school')));
  async function load() {
    const schools = await api.schools();
    list.replaceChildren(...schools.map((s) => h('li', {}, h('span', { class: 'school-name' }, s.name), ' · ', t(`school_kind.${s.kind}`))));
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await api.createSchool({ name: name.value, kind: kind.value });
      form.reset();
      await load();
    } catch (e) {
      setText(error, [e.message, ...Object.values(e.fields || {})].join(' '));
      error.hidden = false;
    }
  });
  replaceChildren(el, h('section', { class: 'admin' }, h('h1', {}, t('admin.schools')), list, form));
  load().catch((e) => messagePage(el, e.message));
}

function adminAuditPage(el) {
  setTitle(t('admin.audit'));
  const tbody = h('tbody');
  replaceChildren(el, h('section', { class: 'admin' }, h('h1', {}, t('admin.audit')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table audit-table' },
      h('thead', {}, h('tr', {}, ...['admin.when', 'admin.who', 'admin.from', 'admin.action', 'admin.target']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      tbody))));
  api.audit().then((entries) => {
    tbody.replaceChildren(...entries.map((e) => h('tr', {},
      h('td', {}, formatDateTime(e.at)),
      h('td', {}, e.actor_name || '—'),
      h('td', {}, e.address || '—'),
      h('td', {}, has(`audit.${e.action}`) ? t(`audit.${e.action}`) : e.action),
      h('td', {}, [e.target_kind, e.target_id].filter(Boolean).join(' ')),
    )));
  }).catch((e) => messagePage(el, e.message));
}

// ---------------------------------------------------------------- router

const ROUTES = [
  [/^\/login(\?.*)?$/, loginPage, 'login'],
  [/^\/setup(\?.*)?$/, setupPage, 'login'],
  [/^\/admin\/users$/, adminUsersPage, 'admin'],
  [/^\/admin\/schools$/, adminSchoolsPage, 'admin'],
  [/^\/admin\/audit$/, adminAuditPage, 'admin'],
  [/^\/?$/, wallPage, 'live'],
  [/^\/watch\/([^/]+)$/, watchPage, 'live', 'id'],
  [/^\/recordings\/([^/]+)$/, recordingsPage, 'recordings', 'id'],
  [/^\/recording\/([^/]+)$/, recordingPage, 'recordings', 'id'],
];

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  showOffline(false);
  const path = location.hash.replace(/^#/, '') || '/';
  for (const [pattern, page, nav, param] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    const params = param ? { [param]: decodeURIComponent(match[1]) } : {};
    if (page !== loginPage && page !== setupPage && signedOut) {
      location.hash = `#/login?next=${encodeURIComponent('#' + path)}`;
      return;
    }
    for (const link of document.querySelectorAll('[data-nav]')) {
      link.classList.toggle('active', link.dataset.nav === nav);
    }
    root.replaceChildren();
    cleanup = page(root, params) || null;
    window.scrollTo(0, 0);
    return;
  }
  setTitle();
  messagePage(root, t('common.page_not_found'));
}

async function main() {
  const select = document.getElementById('lang');
  try {
    await setLanguage(initialLanguage());
  } catch (error) {
    console.error(error);
    await setLanguage('zh-CN').catch(() => {});
  }
  translateStatic();
  select.value = language();
  select.addEventListener('change', async () => {
    await setLanguage(select.value, { persist: true });
    translateStatic();
    route(); // re-render the current page in the new language
  });
  document.getElementById('sign-out').addEventListener('click', async () => {
    await api.signOut().catch(() => {});
    showUser(null);
    signedOut = true;
    location.hash = '#/login';
  });
  window.addEventListener('classcast:signed-out', () => {
    showUser(null);
    if (!location.hash.startsWith('#/login') && !location.hash.startsWith('#/setup')) {
      location.hash = `#/login?next=${encodeURIComponent(location.hash || '#/')}`;
    }
  });
  window.addEventListener('hashchange', () => {
    if (location.hash.startsWith('#/login') || location.hash.startsWith('#/setup')) return route();
    // Arriving anywhere else after signing in: the session is good again.
    api.session().then((user) => { signedOut = !user; showUser(user); route(); })
      .catch(() => route());
  });
  try {
    const user = await api.session();
    signedOut = !user;
    showUser(user);
  } catch (error) {
    console.warn('session check failed', error);
  }
  route();
}

main();
