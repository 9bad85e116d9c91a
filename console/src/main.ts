import 'element-plus/theme-chalk/el-message.css'
import 'element-plus/theme-chalk/el-message-box.css'
import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { connectSession } from './api/client'
import { i18n } from './i18n'
import { router } from './router'
import { useSession } from './stores/session'

const app = createApp(App).use(createPinia()).use(i18n).use(router)

const session = useSession()
connectSession(
  () => session.token,
  () => {
    // The session ended (expired or revoked): sign in again, then come back here.
    session.forget()
    const here = router.currentRoute.value
    if (here.name !== 'sign-in') void router.push({ name: 'sign-in', query: { redirect: here.fullPath, expired: '1' } })
  },
)

app.mount('#app')
