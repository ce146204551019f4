import { defineConfig } from "vite";

// A plain single-page app: index.html, one script, one stylesheet. `config.json` (the function
// URLs, the Auth emulator) is served beside the build by whoever hosts it (emulators/web_server.py).
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
});
