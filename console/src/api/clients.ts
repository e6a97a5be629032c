// The suite's APIs as the signed-in user: every call goes to the gateway over gRPC-Web with
// the user's token, so each service applies its own role, record and field rules.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { CustomersService } from "../gen/crm/customers/v1/customers_pb";
import { GatewayService } from "../gen/crm/gateway/v1/gateway_pb";
import { CampaignService } from "../gen/crm/marketing/v1/campaigns_pb";
import { MarketingService } from "../gen/crm/marketing/v1/marketing_pb";
import { PredictionService } from "../gen/crm/marketing/v1/predictions_pb";
import { PartnerService } from "../gen/crm/partners/v1/partners_pb";
import { PartnerPortalService } from "../gen/crm/partners/v1/portal_pb";
import { ScorecardService } from "../gen/crm/partners/v1/scorecards_pb";
import { CatalogService } from "../gen/crm/sales/v1/catalog_pb";
import { OrderService } from "../gen/crm/sales/v1/orders_pb";
import { SalesOrgService } from "../gen/crm/sales/v1/org_pb";
import { PipelineService } from "../gen/crm/sales/v1/pipeline_pb";
import { SalesReportService } from "../gen/crm/sales/v1/reports_pb";
import { ServiceDeskService } from "../gen/crm/servicedesk/v1/servicedesk_pb";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb";
import { session } from "../auth/session";

/** Adds the signed-in user's token; a call the gateway refuses as unauthenticated signs out. */
const bearer: Interceptor = (next) => async (request) => {
  const token = session.token();
  if (token) request.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(request);
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unauthenticated) session.expired();
    throw err;
  }
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  interceptors: [bearer],
  // The gateway answers gRPC-Web in binary.
  useBinaryFormat: true,
});

/** The customers service. */
export const customers = createClient(CustomersService, transport);
/** The gateway's composed views. */
export const gateway = createClient(GatewayService, transport);
/** Sales: the pipeline, its opportunities and activities. */
export const pipeline = createClient(PipelineService, transport);
/** Sales: quotes and orders. */
export const orders = createClient(OrderService, transport);
/** Sales: products and price books. */
export const catalog = createClient(CatalogService, transport);
/** Sales: the funnel, forecast, win rate, quota attainment and alerts. */
export const salesReports = createClient(SalesReportService, transport);
/** Sales: departments, teams, reps, territories and quotas. */
export const salesOrg = createClient(SalesOrgService, transport);
/** Marketing: RFM, segments, consent. */
export const marketing = createClient(MarketingService, transport);
/** Marketing: purchase models, churn risk and key customers. */
export const predictions = createClient(PredictionService, transport);
/** Marketing: campaigns by the test-cell method. */
export const campaigns = createClient(CampaignService, transport);
/** Channel partners: the hierarchy, targets and performance. */
export const partners = createClient(PartnerService, transport);
/** The partner portal: catalog, e-orders and deal registration. */
export const portal = createClient(PartnerPortalService, transport);
/** Partner scorecards. */
export const scorecards = createClient(ScorecardService, transport);
/** The service desk. */
export const servicedesk = createClient(ServiceDeskService, transport);

/** Whether a call failed because what it named does not exist (yet). */
export function isNotFound(err: unknown): boolean {
  return ConnectError.from(err).code === Code.NotFound;
}

/** A failed call as a sentence for the reader: the service's own message, which names the
 * fields at fault. */
export function describe(err: unknown): string {
  const e = ConnectError.from(err);
  return e.rawMessage || Code[e.code];
}

/** The fields a refused call named (`INVALID_ARGUMENT` with a `BadRequest` detail), each with
 * what is wrong with it, so a form can say it beside the field. */
export function fieldErrors(err: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const detail of ConnectError.from(err).findDetails(BadRequestSchema)) {
    for (const v of detail.fieldViolations) fields[v.field] = v.description;
  }
  return fields;
}
