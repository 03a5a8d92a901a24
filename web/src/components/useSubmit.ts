import { useState } from 'react';
import { ApiError, NetworkError } from '../api/http';
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
        // Rate limits (log-in, sign-up, password and code checks) say when to try again.
        setMessage(error.status === 429 ? tooMany(error, t) : summary(error, fields, t('common.fixErrors')));
      } else setMessage(error instanceof NetworkError ? error.message : t('common.error'));
    } finally {
      setBusy(false);
    }
  };
  return { errors, message, busy, run };
}

/** A rate limit's refusal: "wait a minute", or, for a longer wait (the daily budget of
 * two-step codes), how many minutes or hours its Retry-After says. */
function tooMany(error: ApiError, t: ReturnType<typeof useI18n>['t']): string {
  const seconds = Number(error.problem.retry_after ?? 0);
  if (seconds <= 90) return t('common.tooManyAttempts');
  if (seconds < 90 * 60) return t('common.tooManyAttemptsMinutes', { count: Math.ceil(seconds / 60) });
  return t('common.tooManyAttemptsHours', { count: Math.ceil(seconds / 3600) });
}

/** One line for a form about a refusal: a rule about the request as a whole (a model-level
 * validation error, which names no field), else `fixFields` when fields are named, else the
 * problem's detail. */
export function summary(error: ApiError, fields: Record<string, string>, fixFields: string): string {
  const rule = fields._?.replace(/^Value error, /, '');
  if (rule) return rule.charAt(0).toUpperCase() + rule.slice(1);
  return Object.keys(fields).length ? fixFields : error.message;
}

/** The API's answer in the reader's words: `known` gives, per problem type or per status
 * (for problems of no particular type), the field it is about (`_` for the form as a whole)
 * and what to say; any other answer stays as the API put it. */
export function said(error: unknown, known: Partial<Record<number | string, [string, string]>>): unknown {
  if (!(error instanceof ApiError)) return error;
  const type = error.problem.type;
  const plain = !type || type === 'about:blank';
  const entry = (type && known[type]) || (plain ? known[error.status] : undefined);
  if (!entry) return error;
  const [field, message] = entry;
  const errors = field === '_' ? [] : [{ loc: ['body', field], msg: message, type: 'said' }];
  return new ApiError({ ...error.problem, detail: message, errors });
}
