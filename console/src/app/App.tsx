// The console's frame: the signed-in user, the language, the navigation, and the page the path
// names.
import { Alert, AppShell, Button, Container, Group, NativeSelect, Text } from "@mantine/core";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useTranslation } from "react-i18next";
import { finishSignIn, loadSettings, session, type ConsoleSettings } from "../auth/session";
import { Link } from "../components/Link";
import { LANGUAGES } from "../i18n";
import { Customer360 } from "../pages/Customer360";
import { Customers } from "../pages/Customers";
import { ScreenPop } from "../pages/ScreenPop";
import { SignIn } from "../pages/SignIn";
import { match, navigate, useLocation } from "./router";

export function App() {
  const { t, i18n } = useTranslation();
  const [settings, setSettings] = useState<ConsoleSettings | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const token = useSyncExternalStore(session.subscribe, () => session.token());
  const { path, query } = useLocation();

  useEffect(() => {
    loadSettings().then(setSettings, (e: Error) => setFailure(e.message));
  }, []);

  // Back from the identity provider.
  useEffect(() => {
    if (settings?.oidc && path === "/signed-in") {
      finishSignIn(settings.oidc, query).then(
        () => navigate("/", true),
        (e: Error) => {
          setFailure(e.message);
          navigate("/", true);
        },
      );
    }
  }, [settings, path, query]);

  const identity = token ? session.identity() : null;
  return (
    <AppShell header={{ height: 56 }} padding="md">
      <AppShell.Header>
        <a className="skip-link" href="#main">
          {t("app.skip")}
        </a>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group component="nav" aria-label={t("app.name")}>
            <Text fw={700}>{t("app.name")}</Text>
            {identity && (
              <Link to="/customers">{t("nav.customers")}</Link>
            )}
          </Group>
          <Group wrap="nowrap">
            <NativeSelect
              aria-label={t("app.language")}
              data={LANGUAGES.map((l) => ({ value: l.code, label: l.name }))}
              value={i18n.language}
              onChange={(e) => void i18n.changeLanguage(e.currentTarget.value)}
            />
            {identity && (
              <>
                <Text size="sm" visibleFrom="sm">
                  {t("app.signedInAs", { user: identity.user, role: identity.roles.map((r) => t(`roles.${r}`)).join(", ") })}
                </Text>
                <Button variant="default" size="xs" onClick={() => session.signOut()}>
                  {t("app.signOut")}
                </Button>
              </>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main id="main" tabIndex={-1}>
        <Container size="lg">
          {failure && (
            <Alert color="red" role="alert" mb="md">
              {failure}
            </Alert>
          )}
          {settings && (identity ? <Page path={path} /> : <SignIn settings={settings} />)}
        </Container>
      </AppShell.Main>
    </AppShell>
  );
}

function Page({ path }: { path: string }) {
  if (match("/screen-pop", path)) return <ScreenPop />;
  const customer = match("/customers/:id", path);
  if (customer) return <Customer360 id={customer.id} />;
  return <Customers />;
}
