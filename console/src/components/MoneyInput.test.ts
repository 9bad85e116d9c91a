// @vitest-environment jsdom
import { mount } from '@vue/test-utils'
import ElementPlus from 'element-plus'
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import zhCN from '@/i18n/zh-CN'
import MoneyInput from './MoneyInput.vue'

function mountWith(modelValue: number | null) {
  const i18n = createI18n({ legacy: false, locale: 'zh-CN', messages: { 'zh-CN': zhCN } })
  return mount(MoneyInput, {
    props: { modelValue, 'onUpdate:modelValue': (fen: number | null) => wrapper.setProps({ modelValue: fen }) },
    global: { plugins: [ElementPlus, i18n] },
  })
}
let wrapper: ReturnType<typeof mountWith>

describe('MoneyInput', () => {
  it('shows fen as yuan and sends what is typed back as fen', async () => {
    wrapper = mountWith(1234)
    const input = wrapper.find('input')
    expect(input.element.value).toBe('12.34')
    await input.setValue('88.8')
    expect(wrapper.props('modelValue')).toBe(8880)
    await input.setValue('￥1,000')
    expect(wrapper.props('modelValue')).toBe(100000)
  })

  it('keeps no amount while what is typed is not one', async () => {
    wrapper = mountWith(500)
    const input = wrapper.find('input')
    await input.setValue('12.345')
    expect(wrapper.props('modelValue')).toBeNull()
    expect(input.element.value).toBe('12.345')
    await input.setValue('')
    expect(wrapper.props('modelValue')).toBeNull()
  })
})
