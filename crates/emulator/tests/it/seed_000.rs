//! Seed 000 (cross-role PAT issuance), reproduced through the SQL API.
