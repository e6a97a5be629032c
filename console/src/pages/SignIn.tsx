// Sign-in: with the organisation's identity provider (OpenID Connect, authorization code with
// PKCE), or, under `crm up`, as any role and user for development.
import { Alert, Button, Card, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { devSignIn, startSignIn, type ConsoleSettings } from "../auth/session";

export function SignIn({ settings }: { settings: ConsoleSettings }) {
  const { t } = useTranslation();
  const [role, setRole] = useState<string>("admin");
  const [user, setUser] = useState("dev-admin");
  const [partner, setPartner] = useState("");
  const [customer, setCustomer] = useState("");
  const [team, setTeam] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      await devSignIn({ role, user, partner_id: partner, customer_id: customer, team });
    } catch (err) {
      setFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack maw={480} mx="auto" mt="xl">
      <Title order={1}>{t("signIn.title")}</Title>
      {failure && (
        <Alert color="red" role="alert">
          {t("signIn.failed", { message: failure })}
        </Alert>
      )}
      {settings.oidc && (
        <Button size="md" onClick={() => void startSignIn(settings.oidc!).catch((e: Error) => setFailure(e.message))}>
          {t("signIn.withProvider")}
        </Button>
      )}
      {settings.devSignIn && (
        <Card withBorder component="form" onSubmit={submit} aria-labelledby="dev-sign-in">
          <Stack>
            <Title order={2} size="h4" id="dev-sign-in">
              {t("signIn.development")}
            </Title>
            <Text size="sm">{t("signIn.developmentHint")}</Text>
            <Select
              label={t("signIn.role")}
              data={settings.roles.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
              value={role}
              onChange={(v) => v && setRole(v)}
              allowDeselect={false}
            />
            <TextInput label={t("signIn.user")} value={user} onChange={(e) => setUser(e.currentTarget.value)} required />
            {role === "partner_user" && (
              <TextInput label={t("signIn.partner")} value={partner} onChange={(e) => setPartner(e.currentTarget.value)} required />
            )}
            {/* A manager reads their team's records, by the team their token names. */}
            {(role === "sales_manager" || role === "sales_rep") && (
              <TextInput label={t("signIn.team")} value={team} onChange={(e) => setTeam(e.currentTarget.value)} />
            )}
            {role === "customer" && (
              <TextInput label={t("signIn.customer")} value={customer} onChange={(e) => setCustomer(e.currentTarget.value)} required />
            )}
            <Button type="submit" loading={busy}>
              {t("signIn.submit")}
            </Button>
          </Stack>
        </Card>
      )}
      {!settings.oidc && !settings.devSignIn && <Alert>{t("signIn.none")}</Alert>}
    </Stack>
  );
}
