// Two-step verification: turning it on and off on the account page, and an owner's or
// admin's reset of it on the Team page (for someone who lost their phone).
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import { ApiError, type TokenOut } from '../api/http';
import { saveBlob } from '../api/download';
import { INVALID_CODE, useAuth } from '../auth/AuthContext';
import { FormError, TextField } from '../components/Field';
import { said, useSubmit } from '../components/useSubmit';
import { useI18n, type MessageKey } from '../i18n';
import {
  CODE_REQUIRED,
  confirmTwoFactor,
  DEACTIVATED,
  disableTwoFactor,
  newRecoveryCodes,
  startTwoFactor,
  TWO_FACTOR_NOT_STARTED,
  TWO_FACTOR_OFF,
  TWO_FACTOR_ON,
  WRONG_PASSWORD,
  type Member,
} from './api';

/** What a password opens: a setup, new recovery codes, or turning it off. */
type Action = 'enable' | 'codes' | 'disable';
type Step =
  | { at: 'overview' }
  | { at: 'password'; action: Action }
  | { at: 'scan'; secret: string; uri: string }
  | { at: 'codes'; codes: string[] };

const OVERVIEW: Step = { at: 'overview' };

/** The account page's section: on or off, and the way from one to the other. */
export function TwoFactorPanel() {
  const { t } = useI18n();
  const { me, reloadMe, adopt } = useAuth();
  const [step, setStep] = useState<Step>(OVERVIEW);
  const [note, setNote] = useState<MessageKey | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  if (!me) return null;
  const { two_factor: on, recovery_codes_left: left } = me.user;

  const go = (next: Step, saying: MessageKey | null = null) => {
    setStep(next);
    setNote(saying);
  };
  /** Back to the overview, the focus with it (the step's controls are gone). */
  const back = (saying: MessageKey | null = null) => {
    go(OVERVIEW, saying);
    setTimeout(() => heading.current?.focus());
  };
  /** On, or off, already: another tab or device changed it. Show how it is now. */
  const changedElsewhere = async () => {
    await reloadMe().catch(() => undefined);
    back('twoFactor.changedElsewhere');
  };

  return (
    <section className="panel" aria-labelledby="two-factor-title" data-testid="two-factor">
      <h2 id="two-factor-title" ref={heading} tabIndex={-1}>
        {t('twoFactor.title')}
      </h2>
      {note && (
        <p className="flash" role="status">
          {t(note)}
        </p>
      )}
      {step.at === 'overview' &&
        (on ? (
          <>
            <p>
              <span className="status status-done">{t('twoFactor.on')}</span> {t('twoFactor.onHelp')}
            </p>
            <p data-testid="codes-left">{t('twoFactor.codesLeft', { count: left })}</p>
            {left < 3 && <p className="warning">{t('twoFactor.fewLeft')}</p>}
            <div className="actions">
              <button type="button" onClick={() => go({ at: 'password', action: 'codes' })}>
                {t('twoFactor.newCodes')}
              </button>
              <button type="button" className="danger" onClick={() => go({ at: 'password', action: 'disable' })}>
                {t('twoFactor.turnOff')}
              </button>
            </div>
          </>
        ) : (
          <>
            <p>{t('twoFactor.offHelp')}</p>
            <button type="button" className="primary" onClick={() => go({ at: 'password', action: 'enable' })}>
              {t('twoFactor.turnOn')}
            </button>
          </>
        ))}
      {step.at === 'password' && (
        <PasswordStep
          action={step.action}
          onCancel={() => back()}
          onStale={changedElsewhere}
          onDone={async (out) => {
            if (out.kind === 'scan') return go({ at: 'scan', secret: out.secret, uri: out.uri });
            await reloadMe().catch(() => undefined);
            if (out.kind === 'codes') go({ at: 'codes', codes: out.codes });
            else back('twoFactor.turnedOff');
          }}
        />
      )}
      {step.at === 'scan' && (
        <ScanStep
          secret={step.secret}
          uri={step.uri}
          onCancel={() => back()}
          onStale={changedElsewhere}
          onDone={async ({ recovery_codes, session }) => {
            // Every other session of the account ended: this browser goes on with the new one.
            await adopt(session).catch(() => reloadMe().catch(() => undefined));
            go({ at: 'codes', codes: recovery_codes });
          }}
        />
      )}
      {step.at === 'codes' && <CodesStep codes={step.codes} onDone={() => back()} />}
    </section>
  );
}

type PasswordOutcome = { kind: 'scan'; secret: string; uri: string } | { kind: 'codes'; codes: string[] } | { kind: 'off' };

/** A code from the authenticator app (or a recovery code), asked with the password while
 * two-step verification is on. */
export function CodeField({ error }: { error?: string }) {
  const { t } = useI18n();
  return <TextField label={t('twoFactor.code')} name="code" required autoComplete="one-time-code" hint={t('twoFactor.codeHint')} error={error} />;
}

/** The password, asked again before any change of the two-step verification. */
function PasswordStep({
  action,
  onCancel,
  onStale,
  onDone,
}: {
  action: Action;
  onCancel: () => void;
  onStale: () => Promise<void>;
  onDone: (out: PasswordOutcome) => Promise<void>;
}) {
  const { t } = useI18n();
  const { errors, message, busy, run } = useSubmit();
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const password = String(data.get('password') ?? '');
    const code = String(data.get('code') ?? '').trim();
    void run(async () => {
      let out: PasswordOutcome;
      try {
        if (action === 'enable') {
          const setup = await startTwoFactor(password);
          out = { kind: 'scan', secret: setup.secret, uri: setup.otpauth_uri };
        } else if (action === 'codes') out = { kind: 'codes', codes: (await newRecoveryCodes(password, code)).recovery_codes };
        else out = (await disableTwoFactor(password, code), { kind: 'off' });
      } catch (e) {
        if (e instanceof ApiError && (e.problem.type === TWO_FACTOR_ON || e.problem.type === TWO_FACTOR_OFF)) return onStale();
        throw said(e, {
          [DEACTIVATED]: ['_', t('account.deactivated')],
          [WRONG_PASSWORD]: ['password', t('account.wrongPassword')],
          [CODE_REQUIRED]: ['code', t('twoFactor.codeRequired')],
          [INVALID_CODE]: ['code', t('twoFactor.wrongCode')],
          403: ['password', t('account.wrongPassword')],
        });
      }
      await onDone(out);
    });
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <p className="hint">{t(`twoFactor.why.${action}`)}</p>
      <FormError message={message} />
      <TextField
        label={t('twoFactor.password')}
        name="password"
        type="password"
        required
        autoFocus
        autoComplete="current-password"
        error={errors.password}
      />
      {action !== 'enable' && <CodeField error={errors.code} />}
      <div className="actions">
        <button type="submit" className={action === 'disable' ? 'danger' : 'primary'} disabled={busy}>
          {t(`twoFactor.go.${action}`)}
        </button>
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

/** The new key, as a QR code for the app and as text to type in it; a code from the app
 * proves it has the key, and turns two-step verification on. */
function ScanStep({
  secret,
  uri,
  onCancel,
  onStale,
  onDone,
}: {
  secret: string;
  uri: string;
  onCancel: () => void;
  onStale: () => Promise<void>;
  onDone: (out: { recovery_codes: string[]; session: TokenOut }) => Promise<void>;
}) {
  const { t } = useI18n();
  const { errors, message, busy, run } = useSubmit();
  const [qr, setQr] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    // An SVG, drawn here: the key never leaves the browser for a QR code service.
    QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
      .then((svg) => alive && setQr(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`))
      .catch(() => alive && setQr(null)); // the key below still works
    return () => {
      alive = false;
    };
  }, [uri]);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get('code') ?? '').trim();
    void run(async () => {
      let out: { recovery_codes: string[]; session: TokenOut };
      try {
        out = await confirmTwoFactor(code);
      } catch (e) {
        if (e instanceof ApiError && e.problem.type === TWO_FACTOR_ON) return onStale();
        const detail = e instanceof ApiError ? e.problem.detail : undefined;
        throw said(e, {
          [DEACTIVATED]: ['_', t('account.deactivated')],
          [INVALID_CODE]: ['code', detail || t('twoFactor.wrongCode')],
          [TWO_FACTOR_NOT_STARTED]: ['_', t('twoFactor.notStarted')],
        });
      }
      await onDone(out);
    });
  };
  return (
    <div className="two-factor-setup">
      <p>{t('twoFactor.scan')}</p>
      {qr && <img className="qr" src={qr} alt={t('twoFactor.qrAlt')} width={200} height={200} />}
      <p>
        {t('twoFactor.manual')} <code className="secret" data-testid="two-factor-secret">{secret}</code>
      </p>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={message} />
        <TextField
          label={t('twoFactor.code')}
          name="code"
          required
          autoFocus
          autoComplete="one-time-code"
          inputMode="numeric"
          hint={t('twoFactor.setupCodeHint')}
          error={errors.code}
        />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {t('twoFactor.go.confirm')}
          </button>
          <button type="button" onClick={onCancel}>
            {t('common.cancel')}
          </button>
        </div>
      </form>
    </div>
  );
}

/** The recovery codes, shown once: to copy, download or write down before "Done". */
function CodesStep({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const { me } = useAuth();
  const [copied, setCopied] = useState(false);
  const [copyFailed, setCopyFailed] = useState(false);
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => title.current?.focus(), []);
  const text = () =>
    [t('twoFactor.fileHeading', { email: me?.user.email ?? '', organization: me?.tenant.name ?? '' }), '', ...codes, ''].join('\n');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text());
      setCopied(true);
      setCopyFailed(false);
    } catch {
      setCopyFailed(true); // no clipboard (an insecure origin, say): the codes are selectable
    }
  };
  return (
    <div className="recovery-codes">
      <h3 ref={title} tabIndex={-1}>
        {t('twoFactor.codesTitle')}
      </h3>
      <p className="warning">{t('twoFactor.keepCodes')}</p>
      <ul className="codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <div className="actions">
        <button type="button" onClick={() => void copy()}>
          {copied ? t('twoFactor.copied') : t('twoFactor.copyCodes')}
        </button>
        <button type="button" onClick={() => saveBlob(new Blob([text()], { type: 'text/plain;charset=utf-8' }), 'mrbill-recovery-codes.txt')}>
          {t('twoFactor.downloadCodes')}
        </button>
        <button type="button" className="primary" onClick={onDone}>
          {t('twoFactor.done')}
        </button>
      </div>
      {copyFailed && <small>{t('twoFactor.copyByHand')}</small>}
    </div>
  );
}

/** A Team page row's reset of a member's two-step verification, once confirmed. */
export function ResetTwoFactor({ member, onReset }: { member: Member; onReset: () => Promise<void> }) {
  const { t } = useI18n();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const start = useRef<HTMLButtonElement>(null);
  const warning = useId();
  const reset = async () => {
    setBusy(true);
    try {
      await onReset();
    } finally {
      setBusy(false);
      setConfirming(false);
      setTimeout(() => start.current?.focus()); // (still there when the reset failed)
    }
  };
  if (!confirming)
    return (
      <button type="button" ref={start} onClick={() => setConfirming(true)} aria-label={t('team.resetTwoFactorOf', { name: member.full_name })}>
        {t('team.resetTwoFactor')}
      </button>
    );
  return (
    <div className="confirm">
      <p id={warning}>{t('team.resetTwoFactorConfirm', { name: member.full_name })}</p>
      <div className="actions">
        {/* Focus on Cancel: a second Enter must not confirm what the warning is about. */}
        <button type="button" className="danger" aria-describedby={warning} disabled={busy} onClick={() => void reset()}>
          {t('team.resetTwoFactorYes')}
        </button>
        <button
          type="button"
          autoFocus
          onClick={() => {
            setConfirming(false);
            setTimeout(() => start.current?.focus());
          }}
        >
          {t('common.cancel')}
        </button>
      </div>
    </div>
  );
}
