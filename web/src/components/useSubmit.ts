import { useState } from 'react';
import { ApiError } from '../api/http';
import { useI18n } from '../i18n';

/** A form's submit state: field errors from problem+json, one summary message (the
 * problem's detail when it names no field), and whether it is on its way. */
export function useSubmit() {
  const { t } = useI18n();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setErrors({});
    setMessage(null);
    try {
      await action();
    } catch (error) {
      if (error instanceof ApiError) {
        const fields = error.fieldErrors();
        setErrors(fields);
        setMessage(Object.keys(fields).length ? t('common.fixErrors') : error.message);
      } else setMessage(t('common.error'));
    } finally {
      setBusy(false);
    }
  };
  return { errors, message, busy, run };
}

/** The API's answer in the reader's words: `known` gives, per status, the field it is about
 * (`_` for the form as a whole) and what to say; any other answer stays as the API put it. */
export function said(error: unknown, known: Partial<Record<number, [string, string]>>): unknown {
  if (!(error instanceof ApiError) || !known[error.status]) return error;
  const [field, message] = known[error.status]!;
  const errors = field === '_' ? [] : [{ loc: ['body', field], msg: message, type: 'said' }];
  return new ApiError({ ...error.problem, detail: message, errors });
}
