// Messages come from the catalogue shared with the server (web/i18n/*.json,
// which src/http/error.rs also compiles in for API error messages). Chinese
// first; English when chosen with the language switch (kept in
// localStorage) or `?lang=en` in the address.
//
// The catalogue's only syntax is `{name}` placeholders, so messages are
// compiled here by a few lines rather than vue-i18n's message compiler: no
// eval under the CSP, and characters such as `@` or `|` in a message stay text.

import { createI18n } from 'vue-i18n';
import zhCN from '../i18n/zh-CN.json';
import en from '../i18n/en.json';

export const LANGUAGES = ['zh-CN', 'en'];
export const DEFAULT_LANGUAGE = 'zh-CN';
const STORAGE_KEY = 'classcast.lang';

export function normalise(value) {
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

function remember(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* not remembered; still used for this page */
  }
}

/** The language asked for by `?lang=` (also remembered), else the stored one, else Chinese. */
function initialLanguage() {
  const fromQuery = normalise(new URLSearchParams(location.search).get('lang'));
  if (fromQuery) {
    remember(fromQuery);
    return fromQuery;
  }
  return normalise(stored()) || DEFAULT_LANGUAGE;
}

/** `{name}` placeholders filled from the named arguments; anything else is literal text. */
function compile(message) {
  const text = String(message);
  return (ctx) => text.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = ctx.named(name);
    return value === undefined || value === null ? whole : String(value);
  });
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLanguage(),
  fallbackLocale: DEFAULT_LANGUAGE,
  messages: { 'zh-CN': zhCN, en },
  messageCompiler: compile,
  missingWarn: false,
  fallbackWarn: false,
});

document.documentElement.lang = i18n.global.locale.value;

/** Switches the UI language; `lang` on <html> follows for screen readers and fonts. */
export function setLanguage(lang) {
  const next = normalise(lang) || DEFAULT_LANGUAGE;
  i18n.global.locale.value = next;
  document.documentElement.lang = next;
  remember(next);
}

export function language() {
  return i18n.global.locale.value;
}

/** For code outside components (the API client, the router). */
export function t(key, params) {
  return i18n.global.t(key, params || {});
}

/** True when the catalogue has `key` (for keys built from data, e.g. problem codes). */
export function has(key) {
  return i18n.global.te(key, DEFAULT_LANGUAGE);
}
