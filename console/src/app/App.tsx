// The console's frame: the signed-in user, the language, the navigation, and the page the path
// names.
import { Alert, AppShell, Button, Container, Group, Loader, NativeSelect, Text } from "@mantine/core";
import { lazy, Suspense, useEffect, useState, useSyncExternalStore, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { can, type Action } from "../auth/access";
import { finishSignIn, loadSettings, session, type ConsoleSettings, type Identity } from "../auth/session";
import { Link } from "../components/Link";
import { LANGUAGES } from "../i18n";
import { SignIn } from "../pages/SignIn";
import { match, navigate, useLocation } from "./router";

// Each area's pages load when first opened, so signing in does not wait for every screen.
const Customers = lazy(() => import("../pages/customers/Customers").then((m) => ({ default: m.Customers })));
const Customer360 = lazy(() => import("../pages/customers/Customer360").then((m) => ({ default: m.Customer360 })));
const EditParty = lazy(() => import("../pages/customers/EditParty").then((m) => ({ default: m.EditParty })));
const Network = lazy(() => import("../pages/customers/Network").then((m) => ({ default: m.Network })));
const Duplicates = lazy(() => import("../pages/customers/Duplicates").then((m) => ({ default: m.Duplicates })));
const Export = lazy(() => import("../pages/customers/Export").then((m) => ({ default: m.Export })));
const Value = lazy(() => import("../pages/customers/Value").then((m) => ({ default: m.Value })));
const Leads = lazy(() => import("../pages/sales/Leads").then((m) => ({ default: m.Leads })));
const Lead = lazy(() => import("../pages/sales/Lead").then((m) => ({ default: m.Lead })));
const Reports = lazy(() => import("../pages/sales/Reports").then((m) => ({ default: m.Reports })));
const Alerts = lazy(() => import("../pages/sales/Alerts").then((m) => ({ default: m.Alerts })));
const Organisation = lazy(() => import("../pages/sales/Organisation").then((m) => ({ default: m.Organisation })));
const Pipeline = lazy(() => import("../pages/sales/Pipeline").then((m) => ({ default: m.Pipeline })));
const Opportunity = lazy(() => import("../pages/sales/Opportunity").then((m) => ({ default: m.Opportunity })));
const Cases = lazy(() => import("../pages/service/Cases").then((m) => ({ default: m.Cases })));
const Case = lazy(() => import("../pages/service/Case").then((m) => ({ default: m.Case })));
const OpenCase = lazy(() => import("../pages/service/OpenCase").then((m) => ({ default: m.OpenCase })));
const ScreenPop = lazy(() => import("../pages/service/ScreenPop").then((m) => ({ default: m.ScreenPop })));
const RfmMap = lazy(() => import("../pages/marketing/RfmMap").then((m) => ({ default: m.RfmMap })));
const Predictions = lazy(() => import("../pages/marketing/Predictions").then((m) => ({ default: m.Predictions })));
const Campaigns = lazy(() => import("../pages/marketing/Campaigns").then((m) => ({ default: m.Campaigns })));
const Campaign = lazy(() => import("../pages/marketing/Campaign").then((m) => ({ default: m.Campaign })));
const Performance = lazy(() => import("../pages/partners/Performance").then((m) => ({ default: m.Performance })));
const Hierarchy = lazy(() => import("../pages/partners/Hierarchy").then((m) => ({ default: m.Hierarchy })));
const PartnerPage = lazy(() => import("../pages/partners/Partner").then((m) => ({ default: m.Partner })));
const Portal = lazy(() => import("../pages/partners/Portal").then((m) => ({ default: m.Portal })));
const MyRequests = lazy(() => import("../pages/self/MyRequests").then((m) => ({ default: m.MyRequests })));
const CallLists = lazy(() => import("../pages/service/CallLists").then((m) => ({ default: m.CallLists })));
const CallList = lazy(() => import("../pages/service/CallList").then((m) => ({ default: m.CallList })));
const ServiceReport = lazy(() => import("../pages/service/ServiceReport").then((m) => ({ default: m.ServiceReport })));
const Import = lazy(() => import("../pages/import/Import").then((m) => ({ default: m.Import })));
const ServiceSettings = lazy(() => import("../pages/service/ServiceSettings").then((m) => ({ default: m.ServiceSettings })));

/** The navigation: each area, for the roles that may use it. */
const AREAS: { to: string; label: string; action: Action }[] = [
  { to: "/customers", label: "nav.customers", action: "customers.search" },
  { to: "/pipeline", label: "nav.pipeline", action: "sales.pipeline" },
  { to: "/cases", label: "nav.cases", action: "service.cases" },
  { to: "/service/settings", label: "nav.serviceSettings", action: "service.manage" },
  { to: "/marketing", label: "nav.marketing", action: "marketing.read" },
  { to: "/campaigns", label: "nav.campaigns", action: "marketing.read" },
  { to: "/partners", label: "nav.partners", action: "partners.performance" },
  { to: "/my", label: "nav.my", action: "self.service" },
  { to: "/import", label: "nav.import", action: "data.import" },
];

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
          {/* On a narrow screen the areas scroll sideways rather than spill out of the header. */}
          <Group component="nav" aria-label={t("app.name")} wrap="nowrap" gap="sm" className="areas">
            <Text fw={700}>{t("app.name")}</Text>
            {AREAS.filter((a) => can(identity, a.action)).map((a) => (
              <Link key={a.to} to={a.to}>
                {t(a.label)}
              </Link>
            ))}
          </Group>
          <Group wrap="nowrap" style={{ flexShrink: 0 }}>
            <NativeSelect
              aria-label={t("app.language")}
              data={LANGUAGES.map((l) => ({ value: l.code, label: l.name }))}
              value={i18n.language}
              onChange={(e) => void i18n.changeLanguage(e.currentTarget.value)}
            />
            {identity && (
              <>
                <Text size="sm" visibleFrom="lg">
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
          {settings &&
            (identity ? (
              <Suspense fallback={<Loader size="sm" aria-label={t("state.loading")} />}>
                <Page path={path} identity={identity} />
              </Suspense>
            ) : (
              <SignIn settings={settings} />
            ))}
        </Container>
      </AppShell.Main>
    </AppShell>
  );
}

/** The page `path` names. */
function Page({ path, identity }: { path: string; identity: Identity }): ReactNode {
  if (match("/screen-pop", path)) return <ScreenPop />;
  if (match("/customers/duplicates", path)) return <Duplicates />;
  if (match("/customers/value", path)) return <Value />;
  if (match("/customers/export", path)) return <Export />;
  const network = match("/customers/:id/network", path);
  if (network) return <Network id={network.id} />;
  const editing = match("/customers/:id/edit", path);
  if (editing) return <EditParty id={editing.id} />;
  const customer = match("/customers/:id", path);
  if (customer) return <Customer360 id={customer.id} />;
  if (match("/pipeline", path)) return <Pipeline />;
  if (match("/leads", path)) return <Leads />;
  const lead = match("/leads/:id", path);
  if (lead) return <Lead id={lead.id} />;
  if (match("/sales/reports", path)) return <Reports />;
  if (match("/sales/alerts", path)) return <Alerts />;
  if (match("/sales/organisation", path)) return <Organisation />;
  const deal = match("/opportunities/:id", path);
  if (deal) return <Opportunity id={deal.id} />;
  if (match("/cases/new", path)) return <OpenCase />;
  const serviceCase = match("/cases/:id", path);
  if (serviceCase) return <Case id={serviceCase.id} />;
  if (match("/cases", path)) return <Cases />;
  if (match("/service/settings", path)) return <ServiceSettings />;
  if (match("/service/report", path)) return <ServiceReport />;
  if (match("/service/call-lists", path)) return <CallLists />;
  const callList = match("/service/call-lists/:id", path);
  if (callList) return <CallList id={callList.id} />;
  if (match("/my", path)) return <MyRequests />;
  if (match("/import", path)) return <Import />;
  if (match("/customers", path)) return <Customers />;
  if (match("/partners", path)) return <Performance />;
  if (match("/partners/hierarchy", path)) return <Hierarchy />;
  const partner = match("/partners/p/:id", path);
  if (partner) return <PartnerPage id={partner.id} />;
  if (match("/portal", path)) return <Portal />;
  if (match("/marketing", path)) return <RfmMap />;
  if (match("/marketing/predictions", path)) return <Predictions />;
  if (match("/campaigns", path)) return <Campaigns />;
  const campaign = match("/campaigns/:id", path);
  if (campaign) return <Campaign id={campaign.id} />;
  // A customer's home is their own requests, a partner's user's their partner's figures;
  // everyone else's, the customers.
  if (!can(identity, "customers.search") && can(identity, "self.service")) return <MyRequests />;
  if (!can(identity, "customers.search") && can(identity, "partners.performance")) return <Performance />;
  return <Customers />;
}
