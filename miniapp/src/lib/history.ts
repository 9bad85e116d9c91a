// How the history page names the ledger's entry kinds. The memo the server wrote is shown when it says more.

const KINDS: Record<string, string> = {
  sale: '消费',
  bill: '消费',
  recharge: '充值',
  refund: '退款',
  reversal: '反结账',
  transfer: '转赠',
  card_refund: '退卡',
  card_breakage: '储值过期',
  points_expiry: '积分过期',
  points_adjustment: '积分调整',
}

/** A statement line's title: the server's memo, else the kind's name, else the kind itself. */
export function movementTitle(kind: string, memo: string): string {
  return memo.trim() || KINDS[kind] || kind
}

/** "2026-12-06T03:04:05Z" → "12-06 11:04" in the phone's time zone (members read their own local time). */
export function shortTime(iso: string): string {
  const at = new Date(iso)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}`
}
