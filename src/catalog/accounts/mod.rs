//! Accounts: users and roles, browser sessions, API tokens, failed
//! sign-ins, the audit log, shared secrets and single-sign-on identities.
//! Secrets never reach these modules: sessions and tokens are looked up by
//! the SHA-256 of what the client holds.

pub mod audit;
pub mod revocations;
pub mod secrets;
pub mod sessions;
pub mod sign_in_failures;
pub mod sso;
pub mod tokens;
pub mod users;
