import { createI18n } from 'vue-i18n'
import en from './en'
import zhCN from './zh-CN'

const LOCALE_KEY = 'huiyuan.console.locale'

export const i18n = createI18n({
  legacy: false,
  locale: localStorage.getItem(LOCALE_KEY) === 'en' ? 'en' : 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

export function toggleLocale(): void {
  const next = i18n.global.locale.value === 'en' ? 'zh-CN' : 'en'
  i18n.global.locale.value = next
  localStorage.setItem(LOCALE_KEY, next)
}

/** A code the api sends (a status, a kind, a reason) in the staff member's language: its words under `group`, or the
 * code itself when the console has none for it. For use outside components too (it follows the current locale). */
export function named(group: string, code: string | null | undefined): string {
  if (code == null || code === '') return ''
  const key = `${group}.${code}`
  return i18n.global.te(key) ? i18n.global.t(key) : code
}

/** The api's failure in the staff member's language. Its `code` is stable, its `message` English: in Chinese, a
 * known code is said in Chinese, keeping the specifics the message names (the field and why, the permission); in
 * English, or for a code the console does not know, the api's own message. */
export function apiErrorText(code: string, message: string): string {
  const { t, te, locale } = i18n.global
  const key = `errors.${code}`
  if (locale.value === 'en' || !/^[a-z_]+$/.test(code) || !te(key)) return message
  switch (code) {
    case 'invalid_input':
      return t(key, { detail: message })
    case 'forbidden': {
      // "...: it needs the `x` [or the `y`] permission", "this changes every store: it needs ...", or the rule that
      // staff manage only roles below their own. Permissions are named in the staff member's words.
      const permissions = [...message.matchAll(/`([^`]+)`/g)].map((found) => named('permissions', found[1]))
      if (message.includes('roles below their own')) return t('errors.forbiddenRole')
      if (!permissions.length) return t(key)
      if (message.includes('every store')) return t('errors.forbiddenEveryStore', { permission: permissions[0] })
      return t('errors.forbiddenNeeds', { permission: permissions.join(t('errors.or')) })
    }
    case 'too_many_requests': {
      const secs = /(\d+)\s*s\b/.exec(message)?.[1]
      return secs ? t('errors.retryIn', { secs }) : t(key)
    }
    case 'provider_rejected':
      // "{provider} refused the request: {what the provider said}"
      return t(key, { detail: message.split('refused the request: ')[1] ?? message })
    default:
      return t(key)
  }
}
