import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import type { Schemas } from '@/api/client'
import { useSession } from '@/stores/session'

declare module 'vue-router' {
  interface RouteMeta {
    /** What the page needs: the menu hides it and the router refuses it without. */
    permission?: Schemas['Permission']
    /** The menu's label key. */
    title?: string
    public?: boolean
  }
}

// Pages load on demand: the first load carries only the shell and the page opened.
export const pages: RouteRecordRaw[] = [
  { path: 'today', name: 'today', component: () => import('@/pages/Today.vue'), meta: { permission: 'checkout', title: 'nav.today' } },
  { path: 'checkout', name: 'checkout', component: () => import('@/pages/Checkout.vue'), meta: { permission: 'checkout', title: 'nav.checkout' } },
  { path: 'bills', name: 'bills', component: () => import('@/pages/Bills.vue'), meta: { permission: 'checkout', title: 'nav.bills' } },
  { path: 'board', name: 'board', component: () => import('@/pages/DayBoard.vue'), meta: { permission: 'booking_read', title: 'nav.board' } },
  { path: 'members', name: 'members', component: () => import('@/pages/Members.vue'), meta: { permission: 'member_read', title: 'nav.members' } },
  { path: 'members/:id', name: 'member', component: () => import('@/pages/MemberProfile.vue'), meta: { permission: 'member_read' }, props: true },
  { path: 'schedules', name: 'schedules', component: () => import('@/pages/Schedules.vue'), meta: { permission: 'schedule_manage', title: 'nav.schedules' } },
  { path: 'handover', name: 'handover', component: () => import('@/pages/Handover.vue'), meta: { permission: 'checkout', title: 'nav.handover' } },
  { path: 'catalog', name: 'catalog', component: () => import('@/pages/Catalog.vue'), meta: { permission: 'catalog_manage', title: 'nav.catalog' } },
  { path: 'loyalty', name: 'loyalty', component: () => import('@/pages/Loyalty.vue'), meta: { permission: 'loyalty_manage', title: 'nav.loyalty' } },
  { path: 'devices', name: 'devices', component: () => import('@/pages/Devices.vue'), meta: { permission: 'store_manage', title: 'nav.devices' } },
  { path: 'payments', name: 'payments', component: () => import('@/pages/Payments.vue'), meta: { permission: 'refund', title: 'nav.payments' } },
  { path: 'coupons', name: 'coupons', component: () => import('@/pages/Coupons.vue'), meta: { permission: 'member_read', title: 'nav.coupons' } },
  { path: 'segments', name: 'segments', component: () => import('@/pages/Segments.vue'), meta: { permission: 'coupon_manage', title: 'nav.segments' } },
  { path: 'campaigns', name: 'campaigns', component: () => import('@/pages/Campaigns.vue'), meta: { permission: 'coupon_manage', title: 'nav.campaigns' } },
  { path: 'campaigns/:id/report', name: 'campaign-report', component: () => import('@/pages/CampaignReport.vue'), meta: { permission: 'coupon_manage' }, props: true },
  { path: 'automations', name: 'automations', component: () => import('@/pages/Automations.vue'), meta: { permission: 'coupon_manage', title: 'nav.automations' } },
  { path: 'sms', name: 'sms', component: () => import('@/pages/SmsSettings.vue'), meta: { permission: 'coupon_manage', title: 'nav.sms' } },
  { path: 'ratings', name: 'ratings', component: () => import('@/pages/Ratings.vue'), meta: { permission: 'commission_read', title: 'nav.ratings' } },
  { path: 'staff', name: 'staff', component: () => import('@/pages/Staff.vue'), meta: { permission: 'staff_read', title: 'nav.staff' } },
  { path: 'audit', name: 'audit', component: () => import('@/pages/Audit.vue'), meta: { permission: 'audit_read', title: 'nav.audit' } },
  { path: 'jobs', name: 'jobs', component: () => import('@/pages/JobRuns.vue'), meta: { permission: 'audit_read', title: 'nav.jobs' } },
  { path: 'settings', name: 'settings', component: () => import('@/pages/Settings.vue'), meta: { permission: 'merchant_manage', title: 'nav.settings' } },
]

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/sign-in', name: 'sign-in', component: () => import('@/pages/SignIn.vue'), meta: { public: true } },
    { path: '/', component: () => import('@/layouts/Shell.vue'), children: [{ path: '', name: 'home', redirect: () => firstPage() }, ...pages] },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

/** The first page the signed-in role may open. */
function firstPage(): { name: string } {
  const session = useSession()
  const page = pages.find((p) => p.meta?.title && (!p.meta.permission || session.can(p.meta.permission)))
  return { name: (page?.name as string | undefined) ?? 'sign-in' }
}

router.beforeEach(async (to) => {
  const session = useSession()
  if (to.meta.public) return true
  if (!session.token) return { name: 'sign-in', query: { redirect: to.fullPath } }
  if (session.stores.length === 0) await session.loadStores().catch(() => undefined)
  if (to.meta.permission && !session.can(to.meta.permission)) return { name: 'home' }
  return true
})
