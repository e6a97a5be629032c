import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The gateway serves `dist/` from its own port, so the console calls its own origin. In
// development (`npx vite`), calls go to the gateway of `crm up` through this server.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  server: {
    proxy: {
      "^/(crm\\.|console-config\\.json|console/dev-token)": "http://127.0.0.1:50056",
    },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
