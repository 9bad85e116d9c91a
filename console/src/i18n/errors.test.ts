// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest'
import { apiErrorText, i18n, named } from '@/i18n'
import en from './en'
import zhCN from './zh-CN'

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

describe('apiErrorText', () => {
  it('says a known code in Chinese', () => {
    expect(apiErrorText('invalid_credentials', 'wrong username or password')).toBe('账号或密码错误')
    expect(apiErrorText('bill_state', 'the bill is not in a state that allows this')).toBe('账单当前的状态不允许此操作')
  })

  it('keeps the field and why of invalid input', () => {
    expect(apiErrorText('invalid_input', 'phone: must be an 11-digit mainland mobile number')).toBe(
      '输入有误：phone: must be an 11-digit mainland mobile number',
    )
  })

  it('keeps the permission a forbidden action needs', () => {
    expect(apiErrorText('forbidden', 'your role does not allow this')).toBe('你的角色无权进行此操作')
    expect(apiErrorText('forbidden', 'your role does not allow this: it needs the `refund` permission')).toBe(
      '你的角色无权进行此操作：需要「退款与反结账」权限',
    )
    expect(
      apiErrorText('forbidden', 'your role does not allow this: it needs the `checkout` or the `catalog_manage` permission'),
    ).toBe('你的角色无权进行此操作：需要「收银」或「项目与商品管理」权限')
    expect(
      apiErrorText('forbidden', 'this changes every store: it needs the `catalog_manage` permission held for all stores'),
    ).toBe('此操作会更改所有门店：需要对所有门店都持有「项目与商品管理」权限')
    expect(
      apiErrorText('forbidden', 'your role does not allow this: staff manage only roles below their own, working in their own stores'),
    ).toBe('你只能管理角色比自己低、且在自己门店工作的员工')
  })

  it('says how long to wait after too many attempts', () => {
    expect(apiErrorText('too_many_requests', 'too many attempts; try again in 42 s')).toBe('尝试次数过多，请 42 秒后再试')
  })

  it("falls back to the api's message for a code it does not know, and in English", () => {
    expect(apiErrorText('something_new', 'a new kind of failure')).toBe('a new kind of failure')
    i18n.global.locale.value = 'en'
    expect(apiErrorText('invalid_credentials', 'wrong username or password')).toBe('wrong username or password')
  })
})

describe('named', () => {
  it('translates a known code and shows an unknown one as it is', () => {
    expect(named('printerStates', 'paper_out')).toBe('缺纸')
    expect(named('auditActions', 'bill.reversed')).toBe('反结账')
    expect(named('auditActions', 'bill.something_new')).toBe('bill.something_new')
    expect(named('auditActions', 'bill')).toBe('bill')
    expect(named('printerStates', null)).toBe('')
  })
})

describe('messages', () => {
  it('have the same keys in both languages', () => {
    const keys = (tree: object, prefix = ''): string[] =>
      Object.entries(tree).flatMap(([key, value]) =>
        typeof value === 'object' && value !== null ? keys(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
      )
    expect(keys(en).sort()).toEqual(keys(zhCN).sort())
  })
})
