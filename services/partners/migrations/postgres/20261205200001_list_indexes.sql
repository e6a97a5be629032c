-- Lists page newest first per partner; performance reads a currency's targets by year.
CREATE INDEX partner_orders_submitted ON partner_orders (partner_id, submitted_at, id);
CREATE INDEX deal_registrations_partner ON deal_registrations (partner_id, registered_at, id);
CREATE INDEX deal_registrations_registered ON deal_registrations (registered_at, id);
CREATE INDEX targets_currency_period ON targets (currency_code, period);
