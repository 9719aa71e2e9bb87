// A confirmation before a change that cannot be taken back quietly
// (disabling someone, rotating a key, deleting). Resolves true when confirmed.
import { ElMessageBox } from 'element-plus';
import 'element-plus/es/components/message-box/style/css';
import { t } from '../i18n.js';

export async function confirmAction(message, { title, confirm, danger = true } = {}) {
  try {
    await ElMessageBox.confirm(message, title || t('common.confirm_title'), {
      confirmButtonText: confirm || t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      type: danger ? 'warning' : 'info',
      confirmButtonClass: danger ? 'el-button--danger' : '',
      autofocus: false,
    });
    return true;
  } catch {
    return false;
  }
}
