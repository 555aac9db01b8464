//! The partner key's calls that are not a payment's: a company's integrations and bank
//! accounts, for `payrouter fena setup` and for finding the integration a company's payments
//! carry. Thin: requests are built and answers read by the pure functions of `partner`.

use payrouter_provider::{ProviderError, Redactor, SecretString};
use std::collections::HashMap;
use std::sync::Mutex;

use super::{
    bank_accounts, integration_of, integration_page, BankAccount, Integration, IntegrationSpec,
    PartnerCall, PartnerPaths,
};
use crate::client::FenaClient;
use crate::transform::Answer;

/// Fena's default page size, which the integration list is read in.
const PAGE_LIMIT: usize = 25;
/// A company with more integrations than this is not one payrouter set up.
const MAX_PAGES: usize = 40;

/// The partner key, its path table, and the integration ids found so far by company.
pub struct PartnerApi {
    client: FenaClient,
    paths: PartnerPaths,
    redactor: Redactor,
    integration_name: String,
    /// Found once per company and kept: an integration's id does not change.
    integrations: Mutex<HashMap<String, String>>,
}

impl PartnerApi {
    pub fn new(
        client: FenaClient,
        paths: PartnerPaths,
        terminal_id: &str,
        terminal_secret: &SecretString,
        integration_name: String,
    ) -> Self {
        PartnerApi {
            client,
            paths,
            // Fena may echo what it was sent; the partner key may reach neither a caller nor a log.
            redactor: Redactor::new([
                terminal_secret.clone(),
                SecretString::from(terminal_id.to_string()),
            ]),
            integration_name,
            integrations: Mutex::new(HashMap::new()),
        }
    }

    pub fn integration_name(&self) -> &str {
        &self.integration_name
    }

    /// The path of `call` for `company`, about `id`.
    pub fn path(&self, call: PartnerCall, company: &str, id: Option<&str>) -> String {
        self.paths.path(call, company, id)
    }

    /// The id of the company's integration named `FENA_INTEGRATION_NAME`, which its payments
    /// carry so their webhooks reach payrouter. None when it has none (`fena setup` creates
    /// it) or Fena cannot say now: the payment is then made without one, and its state is
    /// still polled.
    pub async fn integration_id(&self, company: &str) -> Option<String> {
        if let Some(id) = self.cached(company) {
            return Some(id);
        }
        match self.integrations(company).await {
            Ok(Answer::Done(all)) => {
                let id = all
                    .into_iter()
                    .find(|i| i.name == self.integration_name)?
                    .id;
                self.integrations_lock()
                    .insert(company.to_string(), id.clone());
                Some(id)
            }
            Ok(Answer::Refused(message)) => {
                tracing::warn!(provider = crate::NAME, %message, "cannot list the company's Fena integrations");
                None
            }
            Err(e) => {
                tracing::warn!(provider = crate::NAME, error = %e, "cannot list the company's Fena integrations");
                None
            }
        }
    }

    fn integrations_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // One insert per change: a poisoned map is still consistent.
        self.integrations.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, company: &str) -> Option<String> {
        self.integrations_lock().get(company).cloned()
    }

    /// Every integration of `company`, all pages read.
    pub async fn integrations(
        &self,
        company: &str,
    ) -> Result<Answer<Vec<Integration>>, ProviderError> {
        let base = self.path(PartnerCall::IntegrationsList, company, None);
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let reply = self
                .client
                .get(&format!("{base}?page={page}&limit={PAGE_LIMIT}"))
                .await?;
            match integration_page(&reply, &self.redactor)? {
                Answer::Done(found) => {
                    all.extend(found.docs);
                    if !found.has_next_page {
                        return Ok(Answer::Done(all));
                    }
                }
                Answer::Refused(message) => return Ok(Answer::Refused(message)),
            }
        }
        Err(ProviderError::Unavailable(format!(
            "Fena lists more than {} integrations for this company",
            MAX_PAGES * PAGE_LIMIT
        )))
    }

    pub async fn create_integration(
        &self,
        company: &str,
        spec: &IntegrationSpec,
    ) -> Result<Answer<Integration>, ProviderError> {
        let path = self.path(PartnerCall::IntegrationCreate, company, None);
        let reply = self.client.post(&path, spec).await?;
        let answer = integration_of(&reply, &self.redactor)?;
        if let Answer::Done(i) = &answer {
            self.integrations_lock()
                .insert(company.to_string(), i.id.clone());
        }
        Ok(answer)
    }

    pub async fn update_integration(
        &self,
        company: &str,
        id: &str,
        spec: &IntegrationSpec,
    ) -> Result<Answer<Integration>, ProviderError> {
        let path = self.path(PartnerCall::IntegrationUpdate, company, Some(id));
        let reply = self.client.post(&path, spec).await?;
        integration_of(&reply, &self.redactor)
    }

    pub async fn bank_accounts(
        &self,
        company: &str,
    ) -> Result<Answer<Vec<BankAccount>>, ProviderError> {
        let path = self.path(PartnerCall::BankAccountsList, company, None);
        let reply = self.client.get(&path).await?;
        bank_accounts(&reply, &self.redactor)
    }
}

impl std::fmt::Debug for PartnerApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerApi")
            .field("integration_name", &self.integration_name)
            .finish_non_exhaustive()
    }
}

/// The terminal API's list of the key's own company's bank accounts (the path Fena's own
/// plugins call).
pub const TERMINAL_BANK_ACCOUNTS: &str = "/open/company/bank-accounts/list";

/// The bank accounts a terminal key's client sees; `redactor` hides that key.
pub async fn terminal_bank_accounts(
    client: &FenaClient,
    redactor: &Redactor,
) -> Result<Answer<Vec<BankAccount>>, ProviderError> {
    let reply = client.get(TERMINAL_BANK_ACCOUNTS).await?;
    bank_accounts(&reply, redactor)
}
