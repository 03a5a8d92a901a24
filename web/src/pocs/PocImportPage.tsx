import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { ApiError } from '../api/http';
import { FormError } from '../components/Field';
import { useI18n } from '../i18n';
import { fileText, importPocs, keyFor, type ImportReport } from './api';

type Rejected = ImportReport['rejected'];

/** Bulk import: the file is validated as a whole (all rows or none), then the result per row. */
export function PocImportPage() {
  const { t } = useI18n();
  const [phase, setPhase] = useState<'idle' | 'running' | 'done'>('idle');
  const [rows, setRows] = useState(0);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [rejected, setRejected] = useState<Rejected>([]);
  const [error, setError] = useState<string | null>(null);
  const [noFile, setNoFile] = useState(false);
  // The last file sent and its Idempotency-Key: importing it again unchanged is a retry.
  const attempt = useRef<{ body: string; key: string } | null>(null);

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const file = data.get('file');
    const missing = !(file instanceof File) || file.size === 0;
    setNoFile(missing);
    if (missing) return;
    const text = await fileText(file);
    setRows(file.name.endsWith('.json') ? safeLength(text) : Math.max(0, text.trim().split('\n').length - 1));
    setPhase('running');
    setError(null);
    setReport(null);
    setRejected([]);
    try {
      const dryRun = data.get('dry_run') === 'on';
      const key = dryRun ? undefined : keyFor(attempt, `${file.name}\n${file.type}\n${text}`);
      setReport(await importPocs(file, text, dryRun, key));
    } catch (e) {
      if (e instanceof ApiError && Array.isArray(e.problem.rejected)) setRejected(e.problem.rejected as Rejected);
      setError(e instanceof Error ? e.message : t('common.error'));
    } finally {
      setPhase('done');
    }
  };

  return (
    <section className="form-page" aria-labelledby="import-title">
      <h1 id="import-title">{t('import.title')}</h1>
      <p className="hint">{t('import.help')}</p>
      <form onSubmit={(e) => void onSubmit(e)}>
        <div className="field">
          <label htmlFor="import-file">{t('import.file')}</label>
          <input
            id="import-file"
            name="file"
            type="file"
            accept=".csv,.json,text/csv,application/json"
            aria-invalid={noFile || undefined}
            aria-describedby={noFile ? 'import-file-error' : undefined}
            onChange={() => setNoFile(false)}
          />
          {noFile && (
            <small id="import-file-error" className="field-error" role="alert">
              {t('import.noFile')}
            </small>
          )}
        </div>
        <label className="check">
          <input type="checkbox" name="dry_run" /> {t('import.dryRun')}
        </label>
        <button type="submit" className="primary" disabled={phase === 'running'}>
          {t('import.start')}
        </button>
      </form>
      <div aria-live="polite" className="import-result">
        {phase === 'running' && (
          <>
            <p>{t('import.running', { count: rows })}</p>
            <progress aria-label={t('import.title')} />
          </>
        )}
        {report && (
          <p className="flash" role="status">
            {report.dry_run ? t('import.validated', { count: report.accepted.length }) : t('import.done', { count: report.imported.length })}
          </p>
        )}
        {report && !report.dry_run && (
          <ul>
            {report.imported.map((row) => (
              <li key={row.poc_id}>
                <Link to={`/pocs/${row.poc_id}`}>{t('import.row', { row: row.row })}</Link>
              </li>
            ))}
          </ul>
        )}
        {phase === 'done' && error && <FormError message={rejected.length ? t('import.rejected', { count: rejected.length }) : error} />}
        {rejected.length > 0 && (
          <table>
            <caption className="sr-only">{t('import.rejected', { count: rejected.length })}</caption>
            <tbody>
              {rejected.map((row) => (
                <tr key={row.row}>
                  <th scope="row">{t('import.row', { row: row.row })}</th>
                  <td>{row.errors.map((e) => `${(e.loc ?? []).join('.')}: ${e.msg ?? ''}`).join('; ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}

function safeLength(text: string): number {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.length : 0;
  } catch {
    return 0;
  }
}
