import { useLocation } from 'react-router-dom';
import { useI18n, type MessageKey } from '../i18n';

/** The message a page was sent here with (`navigate(to, { state: { flash: key } })`): what
 * just happened elsewhere, a POC deleted or an account erased. */
export function Flash() {
  const { t } = useI18n();
  const flash = (useLocation().state as { flash?: MessageKey } | null)?.flash;
  if (!flash) return null;
  return (
    <p className="flash" role="status">
      {t(flash)}
    </p>
  );
}
