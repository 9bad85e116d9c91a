// Who is signed in, with which permissions, working at which store. Kept in localStorage so a reload or a deep
// link keeps the session; a 401 clears it and sends the person to sign in, then back to where they were.

import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, must, type Schemas } from '@/api/client'

type Me = Schemas['MeDto']
type Store = Schemas['StoreDto']
type Permission = Schemas['Permission']

const KEY = 'huiyuan.console.session'
const STORE_KEY = 'huiyuan.console.store'

interface Saved {
  token: string
  expiresAt: string
  me: Me
}

function load(): Saved | null {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Saved | null
    return saved && new Date(saved.expiresAt) > new Date() ? saved : null
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const saved = ref<Saved | null>(load())
  const stores = ref<Store[]>([])
  const storeId = ref<number | null>(Number(localStorage.getItem(STORE_KEY)) || null)

  const me = computed(() => saved.value?.me ?? null)
  const token = computed(() => saved.value?.token ?? null)
  const store = computed(() => stores.value.find((s) => s.id === storeId.value) ?? null)
  /** The chosen store's IANA zone: times are shown in it. */
  const zone = computed(() => store.value?.timezone ?? 'Asia/Shanghai')

  function can(permission: Permission): boolean {
    return me.value?.permissions.includes(permission) ?? false
  }

  async function signIn(username: string, password: string): Promise<void> {
    const answer = await must(api.POST('/api/staff/v1/sessions', { body: { username, password } }))
    saved.value = { token: answer.token, expiresAt: answer.expires_at, me: answer.staff }
    localStorage.setItem(KEY, JSON.stringify(saved.value))
    await loadStores()
  }

  /** The stores this staff member works at (the api lists only those); keeps the chosen one if still theirs. */
  async function loadStores(): Promise<void> {
    stores.value = await must(api.GET('/api/staff/v1/stores'))
    if (!stores.value.some((s) => s.id === storeId.value)) chooseStore(stores.value[0]?.id ?? null)
  }

  function chooseStore(id: number | null): void {
    storeId.value = id
    if (id) localStorage.setItem(STORE_KEY, String(id))
    else localStorage.removeItem(STORE_KEY)
  }

  function forget(): void {
    saved.value = null
    stores.value = []
    localStorage.removeItem(KEY)
  }

  async function signOut(): Promise<void> {
    if (token.value) await api.DELETE('/api/staff/v1/sessions/current').catch(() => undefined)
    forget()
  }

  return { me, token, stores, storeId, store, zone, can, signIn, loadStores, chooseStore, forget, signOut }
})
