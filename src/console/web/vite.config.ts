// Builds the console into dist/console, which `trellis control` serves on 20001.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [react()],
  logLevel: "warn",
  build: { outDir: fileURLToPath(new URL("../../../dist/console", import.meta.url)), emptyOutDir: true, chunkSizeWarningLimit: 2000 },
});
