// What a failed request means to the person, in words: the kinds the API
// client gives each failure, turned into the catalogue's messages. Pages
// show `describe(error)` in place of their content; forms put
// `fieldErrors(error)` next to the fields.

import { ApiError } from '../api/client.js';
import { t } from '../i18n.js';

/** {title, detail} for an error page or banner. */
export function describe(error) {
  if (!(error instanceof ApiError)) return { kind: 'offline', title: t('common.offline'), detail: '' };
  switch (error.kind) {
    case 'forbidden':
      return { kind: 'forbidden', title: t('errors.forbidden_title'), detail: t('errors.forbidden_detail') };
    case 'not_found':
      return { kind: 'not_found', title: t('errors.not_found_title'), detail: t('errors.not_found_detail') };
    case 'unauthorized':
      return { kind: 'unauthorized', title: t('error.unauthorized'), detail: '' };
    case 'offline':
      return { kind: 'offline', title: t('common.offline'), detail: '' };
    case 'invalid':
      return { kind: 'invalid', title: error.code === 'invalid_request' ? t('errors.bad_address') : error.message, detail: '' };
    default:
      return { kind: error.kind, title: error.message, detail: '' };
  }
}

/** Field name → the server's reason, for el-form-item's `error`. */
export function fieldErrors(error) {
  return error instanceof ApiError ? { ...error.fields } : {};
}

/** The message for a form's alert: the server's words, with each field's reason. */
export function formMessage(error) {
  if (!(error instanceof ApiError)) return t('common.offline');
  return error.message;
}
