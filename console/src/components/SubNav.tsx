// An area's own pages (the pipeline, leads, reports...), offered to the roles that may use them,
// the page being read marked.
import { Group } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useLocation } from "../app/router";
import { can, type Action } from "../auth/access";
import { session } from "../auth/session";
import { Link } from "./Link";

/** One page of an area. */
export interface SubPage {
  to: string;
  label: string;
  action: Action;
}

export function SubNav({ label, pages }: { label: string; pages: SubPage[] }) {
  const { t } = useTranslation();
  const { path } = useLocation();
  const identity = session.identity();
  const offered = pages.filter((p) => can(identity, p.action));
  if (offered.length < 2) return null;
  return (
    <Group component="nav" aria-label={label} gap="md">
      {offered.map((p) => (
        <Link key={p.to} to={p.to} current={path === p.to}>
          {t(p.label)}
        </Link>
      ))}
    </Group>
  );
}
