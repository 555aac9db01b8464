//! The subscription routes: typed bodies, handed to the engine.

use serde::Deserialize;

use super::input::{JsonBody, PathParams};
use super::openapi::{BodyErrors, CreateErrors, QueryErrors};
use super::resolve::provider_route;
use crate::contract::{
    InstalmentRequest, ScheduleRequest, StartRequest, SubscriptionResponse,
    SubscriptionStatusResponse, UpdateRequest,
};

#[derive(Deserialize)]
pub struct TokenPath {
    token: String,
}

provider_route! {
    post "/v3/{provider}/subscription/schedule", "subscriptions", [], ScheduleRequest
    => SubscriptionResponse: "REDIRECT_TO_URL to set up the standing order, or KO saying why", CreateErrors;
    fn schedule(app, provider, JsonBody(body): JsonBody<ScheduleRequest>) as "subscription schedule" {
        let order = body.into_order();
        provider.check_amount(order.amount)?;
        app.engine.schedule(&provider.0, order).await?
    }
}

provider_route! {
    post "/v3/{provider}/subscription/update/{token}", "subscriptions",
    [("token" = String, Path, description = "the subscriptionToken")], UpdateRequest
    => SubscriptionResponse: "OK, or KO when the provider no longer allows a change", BodyErrors;
    fn update(
        app,
        provider,
        PathParams(path): PathParams<TokenPath>,
        JsonBody(body): JsonBody<UpdateRequest>
    ) as "subscription update" {
        let order = body.into_order();
        provider.check_amount(order.amount)?;
        app.engine.update_subscription(&provider.0, &path.token, order).await?
    }
}

provider_route! {
    post "/v3/{provider}/subscription/start", "subscriptions", [], StartRequest
    => SubscriptionResponse: "the subscriptionToken and the first payment's answer", CreateErrors;
    fn start(app, provider, JsonBody(body): JsonBody<StartRequest>) as "subscription start" {
        let (order, expires_after) = body.into_parts();
        let order = provider.checked(order)?;
        app.engine.start_subscription(&provider.0, order, expires_after).await?
    }
}

provider_route! {
    post "/v3/{provider}/subscription/pay", "subscriptions", [], InstalmentRequest
    => SubscriptionResponse: "the payment's answer, or KO when the subscription has ended", CreateErrors;
    fn pay(app, provider, JsonBody(body): JsonBody<InstalmentRequest>) as "subscription pay" {
        let (token, order) = body.into_parts();
        app.engine.pay_subscription(&provider.0, token.as_str(), provider.checked(order)?).await?
    }
}

provider_route! {
    method(post, delete) "/v3/{provider}/subscription/expire/{token}", "subscriptions",
    [("token" = String, Path, description = "the subscriptionToken")]
    => SubscriptionResponse: "OK, or KO when the payer's bank holds the standing order", QueryErrors;
    fn expire(app, provider, PathParams(path): PathParams<TokenPath>) as "subscription expire" {
        app.engine.expire_subscription(&provider.0, &path.token).await?
    }
}

provider_route! {
    get "/v3/{provider}/subscription/status/{token}", "subscriptions",
    [("token" = String, Path, description = "the subscriptionToken")]
    => SubscriptionStatusResponse: "the subscription's status", QueryErrors;
    fn status(app, provider, PathParams(path): PathParams<TokenPath>) as "subscription status" {
        app.engine.subscription_status(&provider.0, &path.token).await?
    }
}
