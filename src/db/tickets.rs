//! Queries on `auth.one_time_codes`: hashed, single-use, expiring tickets and OTPs.

pub const STATEMENTS: &[(&str, &str)] = &[];
