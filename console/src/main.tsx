import "@mantine/core/styles.css";
import "./app/app.css";
import "./i18n";
import { MantineProvider, createTheme } from "@mantine/core";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";

// Darker than the defaults, so text on every surface keeps a contrast of 4.5:1 or more.
const theme = createTheme({ primaryColor: "indigo", primaryShade: 8 });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider theme={theme}>
      <App />
    </MantineProvider>
  </StrictMode>,
);
