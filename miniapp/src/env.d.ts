/// <reference types="vite/client" />

// uni-app replaces `process.env.UNI_PLATFORM` at build time: `h5`, `mp-weixin` or `mp-alipay`.
declare const process: { env: { UNI_PLATFORM: string } }

interface ImportMetaEnv {
  /** The api's origin for the mini-program builds (the H5 build uses its own origin). */
  readonly VITE_API_BASE?: string
  readonly VITE_MERCHANT_ID?: string
  readonly VITE_ALIPAY_APPID?: string
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
