import { useEffect, useState } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { useI18n, type MessageKey } from '../i18n';

/** The message a page was sent here with (`navigate(to, { state: { flash: key } })`): what
 * just happened elsewhere, a POC deleted or an account erased. It is shown once: the history
 * entry forgets it at once, so a reload (or coming back to the page) does not say it again. */
export function Flash() {
  const { t } = useI18n();
  const location = useLocation();
  const navigate = useNavigate();
  const state = location.state as { flash?: MessageKey } | null;
  const [flash] = useState(state?.flash);
  useEffect(() => {
    if (!state?.flash) return;
    const { flash: _, ...rest } = state;
    navigate({ pathname: location.pathname, search: location.search, hash: location.hash }, { replace: true, state: Object.keys(rest).length ? rest : null });
  }, [state, location.pathname, location.search, location.hash, navigate]);
  if (!flash) return null;
  return (
    <p className="flash" role="status">
      {t(flash)}
    </p>
  );
}
