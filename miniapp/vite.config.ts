import uni from '@dcloudio/vite-plugin-uni'
import { defineConfig } from 'vite'

// The H5 build is served by the api at /m/; the mini-program builds ignore `base`.
export default defineConfig({
  base: '/m/',
  plugins: [uni()],
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
})
