// Messages come from the catalogue shared with the server (web/i18n/*.json,
// served as /i18n/*.json). Chinese first; English when chosen with the
// language switch (kept in localStorage) or `?lang=en` in the address.

export const LANGUAGES = ['zh-CN', 'en'];
export const DEFAULT_LANGUAGE = 'zh-CN';
const STORAGE_KEY = 'classcast.lang';

let current = DEFAULT_LANGUAGE;
let messages = {};
let fallback = {};

function normalise(value) {
  if (!value) return null;
  const v = String(value).toLowerCase();
  if (v.startsWith('en')) return 'en';
  if (v.startsWith('zh')) return 'zh-CN';
  return null;
}

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage can be blocked; fall back to the default
  }
}

/** The language asked for by `?lang=` (which is also remembered), else the stored one, else Chinese. */
export function initialLanguage() {
  const fromQuery = normalise(new URLSearchParams(location.search).get('lang'));
  if (fromQuery) {
    remember(fromQuery);
    return fromQuery;
  }
  return normalise(stored()) || DEFAULT_LANGUAGE;
}

function remember(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* not remembered; still used for this page */
  }
}

async function fetchCatalogue(lang) {
  const response = await fetch(`/i18n/${lang}.json`, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`catalogue ${lang}: HTTP ${response.status}`);
  return response.json();
}

/** Loads `lang`'s catalogue (and Chinese as the fallback for any missing key). */
export async function setLanguage(lang, { persist = false } = {}) {
  lang = normalise(lang) || DEFAULT_LANGUAGE;
  const [main, base] = await Promise.all([
    fetchCatalogue(lang),
    lang === DEFAULT_LANGUAGE ? null : fetchCatalogue(DEFAULT_LANGUAGE).catch(() => ({})),
  ]);
  messages = main;
  fallback = base || main;
  current = lang;
  document.documentElement.lang = lang;
  if (persist) remember(lang);
  return lang;
}

export function language() {
  return current;
}

/** The message for `key` with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  let text = messages[key] ?? fallback[key];
  if (text === undefined) {
    console.warn(`i18n: no message for ${key}`);
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** True when the catalogue has `key` (for optional keys built from data, e.g. problem codes). */
export function has(key) {
  return key in messages || key in fallback;
}

/** Fills every `[data-i18n]` element under `root` with its message (as text, never HTML). */
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}
