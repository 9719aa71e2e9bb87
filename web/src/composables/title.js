// The document title follows the page (and the language): "page · 录播课堂".
import { watchEffect } from 'vue';
import { t } from '../i18n.js';

export function useTitle(parts) {
  watchEffect(() => {
    const list = [].concat(parts() || []).filter(Boolean);
    document.title = [...list, t('app.title')].join(' · ');
  });
}
