// The counter's one scan field: a keyboard-wedge scanner types a code and Enter faster than any person, and the
// bridge forwards the counter scanner's codes. The server says what a code is (`POST /scans/classify`); this file
// decides what the checkout does with it.

export type ScanKind = 'member_code' | 'product_barcode' | 'wechat_pay_code' | 'alipay_code'

export type ScanAction =
  | { do: 'open_member'; code: string }
  | { do: 'add_product'; barcode: string }
  | { do: 'charge'; authCode: string }
  | { do: 'find_member'; query: string }
  | { do: 'refuse'; reason: 'nothing_to_charge' | 'unknown_code' }

export interface CounterState {
  /** Lines on the bill being built (or resumed). */
  lineCount: number
}

export function routeScan(kind: string, code: string, state: CounterState): ScanAction {
  switch (kind as ScanKind) {
    case 'member_code':
      return { do: 'open_member', code }
    case 'product_barcode':
      return { do: 'add_product', barcode: code }
    case 'wechat_pay_code':
    case 'alipay_code':
      // A payment code is only ever taken for a bill on screen: never queued for "the next bill".
      return state.lineCount > 0 ? { do: 'charge', authCode: code } : { do: 'refuse', reason: 'nothing_to_charge' }
    default:
      // A person may type a phone number into the same field.
      return /^1\d{10}$/.test(code) ? { do: 'find_member', query: code } : { do: 'refuse', reason: 'unknown_code' }
  }
}
