import type { I18n } from '../i18n';

/** What the dojo service stores in place of an erased member's name (LGPD): one marker for
 * every language, shown in the reader's. */
export const FORMER_MEMBER = 'Former member';

export const shownName = (name: string, t: I18n['t']): string => (name === FORMER_MEMBER ? t('room.formerMember') : name);
