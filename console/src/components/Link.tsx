// A link within the console: a real address (to open in a new tab or copy), followed without
// reloading the page.
import { Anchor } from "@mantine/core";
import type { ReactNode } from "react";
import { navigate } from "../app/router";

export function Link({ to, children, current }: { to: string; children: ReactNode; current?: boolean }) {
  return (
    <Anchor
      href={to}
      aria-current={current ? "page" : undefined}
      fw={current ? 700 : undefined}
      onClick={(e) => {
        // A modified click keeps the browser's meaning (a new tab or window).
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </Anchor>
  );
}
