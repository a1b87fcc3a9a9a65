//! Programmatic access tokens: ADD, ROTATE, MODIFY, REMOVE and SHOW USER PATS (§5.12), with the
//! rules of §6.1–§6.5, the session-type rules of §6.7 and the secret format of §6.8.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use snowpat_sql::ast::{AddPat, ModifyPat, PatProperty};

use super::catalog::{later, Kind, Pat, PatStatus};
use super::{auth, errors, unchanged};
use super::{
    Account, AuthMethod, Cell, Column, ColumnType, PatSessionRules, ResultSet, Session, SqlError,
};

/// Tokens per user, counting DISABLED and rotated objects but not EXPIRED ones (§6.2).
pub(crate) const MAX_TOKENS: usize = 15;
/// Expired tokens disappear this long after expiry (§6.1).
const RETENTION_DAYS: i64 = 7;
const MAX_BYPASS_MINS: i64 = 1440;

/// The PAT statements, for the session rules of §6.7.
#[derive(Clone, Copy, Eq, PartialEq)]
enum Op {
    Add,
    Rotate,
    Modify,
    Remove,
}

/// A fresh secret: 48 URL-safe characters from the OS RNG, never containing `.` (§6.8).
pub(crate) fn generate_secret() -> SecretString {
    let mut bytes = [0u8; 36];
    OsRng.fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

fn secret_cell(secret: &SecretString) -> Cell {
    Cell::Text(secret.expose_secret().to_owned())
}

fn text_col(name: &str) -> Column {
    Column {
        name: name.into(),
        ty: ColumnType::Text,
        nullable: false,
    }
}

impl Account {
    /// Drops tokens that expired more than seven days ago (§6.1). Nothing to scan until the
    /// earliest expiry is that old.
    pub(crate) fn purge_expired_pats(&mut self, now: DateTime<Utc>) {
        match self.catalog.earliest_pat_expiry() {
            Some(e) if now >= later(e, Duration::days(RETENTION_DAYS)) => {}
            _ => return,
        }
        self.catalog
            .pats
            .retain(|p| now < later(p.expires_at, Duration::days(RETENTION_DAYS)));
        self.catalog.reset_pat_expiry();
    }

    fn live_token_count(&self, user: u64, now: DateTime<Utc>) -> usize {
        self.catalog
            .pats
            .iter()
            .filter(|p| p.user_id == user && p.status(now) != PatStatus::Expired)
            .count()
    }

    fn pat_index(&self, user: u64, name: &str) -> Option<usize> {
        self.catalog
            .pats
            .iter()
            .position(|p| p.user_id == user && p.name == name)
    }

    fn check_pat_privilege(&self, s: &Session, user: u64) -> Result<(), SqlError> {
        if self.may_manage_pats(s, user) {
            Ok(())
        } else {
            Err(errors::insufficient(
                Kind::User,
                &self.catalog.user_display(user),
            ))
        }
    }

    /// §6.7 S1–S5.
    fn check_session_rules(
        &self,
        s: &Session,
        user: u64,
        op: Op,
        restriction: Option<&str>,
    ) -> Result<(), SqlError> {
        let observed = self.pat_session_rules == PatSessionRules::Observed;
        match &s.auth {
            AuthMethod::Pat {
                role_restriction, ..
            } => {
                let same_user = s.user_id == user;
                if same_user && op != Op::Add {
                    return Err(errors::pat_same_user_session()); // S1
                }
                if observed && op == Op::Add {
                    if same_user {
                        return Err(errors::pat_same_user_session()); // S2
                    }
                    if let Some(a) = role_restriction {
                        if restriction != Some(a.as_str()) {
                            return Err(errors::restriction_mismatch(
                                restriction.unwrap_or("NONE"),
                                a,
                            )); // S3
                        }
                    }
                }
            }
            AuthMethod::OAuth if observed && op == Op::Add => match restriction {
                None => return Err(errors::oauth_requires_restriction()), // S4
                Some(r) if r != s.primary_role => {
                    return Err(errors::restriction_mismatch(r, &s.primary_role));
                    // S5
                }
                Some(_) => {}
            },
            _ => {}
        }
        Ok(())
    }

    /// `ALTER USER ... ADD PAT` with the checks of §6.3, in order.
    pub(crate) fn add_pat(
        &mut self,
        s: &Session,
        user: u64,
        add: &AddPat,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        // 2. privilege
        self.check_pat_privilege(s, user)?;
        let restriction = add.role_restriction.as_ref().map(|r| r.as_str().to_owned());
        // 3. session-type rules
        self.check_session_rules(s, user, Op::Add, restriction.as_deref())?;
        let Some(u) = self.catalog.users.get(&user).cloned() else {
            return Err(errors::not_found(Kind::User, ""));
        };
        let policy = self.effective_auth_policy(&u);
        let pp = &policy.pat_policy;
        // 4. methods
        if !policy.allows("PROGRAMMATIC_ACCESS_TOKEN") {
            return Err(errors::pats_not_allowed(&u.name));
        }
        // 5. network requirement at generation
        if u.is_service()
            && pp.network_policy_evaluation == "ENFORCED_REQUIRED"
            && !self.subject_to_network_policy(&u)
        {
            return Err(errors::network_policy_required());
        }
        // 6. name
        let name = add.name.as_str().to_owned();
        if self.pat_index(user, &name).is_some() {
            if add.if_not_exists {
                return Ok(unchanged(ResultSet {
                    columns: vec![text_col("token_name"), text_col("token_secret")],
                    rows: Vec::new(),
                    changed: false,
                    carries_secret: false,
                }));
            }
            return Err(errors::pat_exists(&name));
        }
        // 7. role restriction given
        if let Some(r) = &restriction {
            if self.catalog.role_id(r).is_none() {
                return Err(errors::not_found(Kind::Role, r));
            }
            if !self.catalog.user_has_role(user, r) {
                return Err(errors::role_not_granted_to_user(r, &u.name));
            }
            if pp.blocked_roles_list.iter().any(|b| b == r) {
                return Err(errors::role_blocked(r));
            }
        } else {
            // 8. role restriction missing
            let service_like = u.is_service() || u.user_type.as_deref() == Some("SERVICE_AGENT");
            let required = (service_like && pp.require_role_restriction_for_service_users)
                || (u.is_person() && pp.require_role_restriction_for_person_users);
            if required {
                return Err(errors::restriction_required());
            }
        }
        // 9. days
        let days = add.days_to_expiry.unwrap_or(pp.default_expiry_in_days);
        if !(1..=pp.max_expiry_in_days).contains(&days) {
            return Err(errors::days_out_of_range(pp.max_expiry_in_days));
        }
        // 10. bypass minutes (0 = none)
        let mins = add.mins_to_bypass_network_policy_requirement.unwrap_or(0);
        if !(0..=MAX_BYPASS_MINS).contains(&mins) {
            return Err(errors::mins_out_of_range());
        }
        // 11. count
        if self.live_token_count(user, t) >= MAX_TOKENS {
            return Err(errors::pat_limit(&u.name));
        }
        // 12. create
        let secret = generate_secret();
        let id = self.catalog.new_id();
        self.catalog.pats.push(Pat {
            id,
            user_id: user,
            name: name.clone(),
            digest: auth::sha256_hex(secret.expose_secret().as_bytes()),
            role_restriction: restriction,
            created_on: t,
            created_by: s.user_id,
            expires_at: later(t, Duration::days(days)),
            disabled: false,
            comment: add.comment.clone(),
            bypass_until: (mins > 0).then(|| later(t, Duration::minutes(mins))),
            rotated_to: None,
            days_to_expiry: days,
            last_used_on: None,
        });
        Ok(ResultSet {
            columns: vec![text_col("token_name"), text_col("token_secret")],
            rows: vec![vec![Cell::Text(name), secret_cell(&secret)]],
            changed: true,
            carries_secret: true,
        })
    }

    /// Common start of ROTATE/MODIFY/REMOVE: privilege, session rules, token lookup.
    fn locate_pat(
        &self,
        s: &Session,
        user: u64,
        op: Op,
        name: &str,
    ) -> Result<Option<usize>, SqlError> {
        self.check_pat_privilege(s, user)?;
        self.check_session_rules(s, user, op, None)?;
        Ok(self.pat_index(user, name))
    }

    /// `ALTER USER ... ROTATE PAT` (§6.4).
    pub(crate) fn rotate_pat(
        &mut self,
        s: &Session,
        user: u64,
        if_exists: bool,
        name: &str,
        hours: Option<i64>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let Some(idx) = self.locate_pat(s, user, Op::Rotate, name)? else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(
                    "Statement executed successfully.",
                )));
            }
            return Err(errors::pat_not_found(name));
        };
        let old = self.catalog.pats[idx].clone();
        if old.is_rotated_object() || old.status(t) == PatStatus::Expired {
            return Err(errors::pat_operation_not_allowed(name));
        }
        let remaining = (old.expires_at - t).num_hours().max(0);
        let h = hours.unwrap_or(24.min(remaining));
        if !(0..=remaining).contains(&h) {
            return Err(errors::hours_out_of_range(remaining));
        }
        if h > 0 && self.live_token_count(user, t) >= MAX_TOKENS {
            return Err(errors::pat_limit(&self.catalog.user_display(user)));
        }
        let mut ms = t.timestamp_millis();
        let mut rotated_name = format!("{name}_ROTATED_{ms}");
        while self.pat_index(user, &rotated_name).is_some() {
            ms += 1;
            rotated_name = format!("{name}_ROTATED_{ms}");
        }
        let secret = generate_secret();
        let rotated_id = self.catalog.new_id();
        self.catalog.pats.push(Pat {
            id: rotated_id,
            name: rotated_name.clone(),
            created_on: t,
            expires_at: later(t, Duration::hours(h)),
            rotated_to: Some(name.to_owned()),
            last_used_on: None,
            ..old.clone()
        });
        self.catalog.set_pat_secret(
            idx,
            auth::sha256_hex(secret.expose_secret().as_bytes()),
            later(t, Duration::days(old.days_to_expiry)),
        );
        Ok(ResultSet {
            columns: vec![
                text_col("token_name"),
                text_col("token_secret"),
                text_col("rotated_token_name"),
            ],
            rows: vec![vec![
                Cell::Text(name.to_owned()),
                secret_cell(&secret),
                Cell::Text(rotated_name),
            ]],
            changed: true,
            carries_secret: true,
        })
    }

    /// `ALTER USER ... MODIFY PAT` (§5.12.3).
    pub(crate) fn modify_pat(
        &mut self,
        s: &Session,
        user: u64,
        if_exists: bool,
        name: &str,
        change: &ModifyPat,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let Some(idx) = self.locate_pat(s, user, Op::Modify, name)? else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(
                    "Statement executed successfully.",
                )));
            }
            return Err(errors::pat_not_found(name));
        };
        if self.catalog.pats[idx].is_rotated_object() {
            let expire_only = matches!(
                change,
                ModifyPat::Set {
                    disabled: Some(true),
                    mins_to_bypass_network_policy_requirement: None,
                    comment: None,
                }
            );
            if !expire_only {
                return Err(errors::pat_operation_not_allowed(name));
            }
        }
        match change {
            ModifyPat::Rename(new) => {
                let new = new.as_str();
                if self.pat_index(user, new).is_some() {
                    return Err(errors::pat_exists(new));
                }
                // Names are not indexed: changed in place, element by element.
                self.catalog
                    .pats
                    .update_unindexed(idx, |p| p.name = new.to_owned());
                let rotated: Vec<usize> = self
                    .catalog
                    .pats
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.user_id == user && p.rotated_to.as_deref() == Some(name))
                    .map(|(i, _)| i)
                    .collect();
                for i in rotated {
                    self.catalog
                        .pats
                        .update_unindexed(i, |p| p.rotated_to = Some(new.to_owned()));
                }
            }
            ModifyPat::Set {
                disabled,
                mins_to_bypass_network_policy_requirement,
                comment,
            } => {
                if let Some(m) = mins_to_bypass_network_policy_requirement {
                    if !(0..=MAX_BYPASS_MINS).contains(m) {
                        return Err(errors::mins_out_of_range());
                    }
                }
                self.catalog.pats.update_unindexed(idx, |p| {
                    if let Some(d) = disabled {
                        p.disabled = *d;
                    }
                    if let Some(m) = mins_to_bypass_network_policy_requirement {
                        p.bypass_until = (*m > 0).then(|| later(t, Duration::minutes(*m)));
                    }
                    if let Some(c) = comment {
                        p.comment = Some(c.clone());
                    }
                });
            }
            ModifyPat::Unset(items) => {
                self.catalog.pats.update_unindexed(idx, |p| {
                    for item in items {
                        match item {
                            PatProperty::Disabled => p.disabled = false,
                            PatProperty::MinsToBypassNetworkPolicyRequirement => {
                                p.bypass_until = None
                            }
                            PatProperty::Comment => p.comment = None,
                        }
                    }
                });
            }
        }
        Ok(ResultSet::status("Statement executed successfully."))
    }

    /// `ALTER USER ... REMOVE PAT` (§5.12.4).
    pub(crate) fn remove_pat(
        &mut self,
        s: &Session,
        user: u64,
        if_exists: bool,
        name: &str,
    ) -> Result<ResultSet, SqlError> {
        let Some(idx) = self.locate_pat(s, user, Op::Remove, name)? else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(
                    "Statement executed successfully.",
                )));
            }
            return Err(errors::pat_not_found(name));
        };
        self.catalog.pats.remove(idx);
        Ok(ResultSet::status(format!(
            "Programmatic access token {name} successfully removed."
        )))
    }

    /// `SHOW USER PATS [FOR USER u]` (§5.12.5).
    pub(crate) fn show_user_pats(
        &self,
        s: &Session,
        for_user: Option<&snowpat_sql::ast::Ident>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let name = for_user
            .map(|u| u.as_str().to_owned())
            .unwrap_or_else(|| s.user_name.clone());
        let user = self
            .catalog
            .user_id(&name)
            .ok_or_else(|| errors::not_found(Kind::User, &name))?;
        self.check_pat_privilege(s, user)?;
        let mut pats: Vec<&Pat> = self
            .catalog
            .pats
            .iter()
            .filter(|p| p.user_id == user)
            .collect();
        pats.sort_by(|a, b| a.created_on.cmp(&b.created_on).then(a.name.cmp(&b.name)));
        let rows = pats
            .into_iter()
            .map(|p| {
                let mins = p
                    .bypass_until
                    .filter(|b| *b > t)
                    .map(|b| {
                        let secs = (b - t).num_seconds();
                        Cell::Number(((secs + 59) / 60).to_string())
                    })
                    .unwrap_or(Cell::Null);
                vec![
                    Cell::Text(p.name.clone()),
                    Cell::Text(self.catalog.user_display(p.user_id)),
                    p.role_restriction
                        .clone()
                        .map(Cell::Text)
                        .unwrap_or(Cell::Null),
                    Cell::Timestamp(p.expires_at),
                    Cell::Text(p.status(t).as_str().into()),
                    p.comment.clone().map(Cell::Text).unwrap_or(Cell::Null),
                    Cell::Timestamp(p.created_on),
                    Cell::Text(self.catalog.user_display(p.created_by)),
                    mins,
                    p.rotated_to.clone().map(Cell::Text).unwrap_or(Cell::Null),
                ]
            })
            .collect();
        let ts = |n: &str| Column {
            name: n.into(),
            ty: ColumnType::TimestampLtz,
            nullable: true,
        };
        Ok(unchanged(ResultSet {
            columns: vec![
                Column::text("name"),
                Column::text("user_name"),
                Column::text("role_restriction"),
                ts("expires_at"),
                Column::text("status"),
                Column::text("comment"),
                ts("created_on"),
                Column::text("created_by"),
                Column {
                    name: "mins_to_bypass_network_policy_requirement".into(),
                    ty: ColumnType::Fixed {
                        precision: 38,
                        scale: 0,
                    },
                    nullable: true,
                },
                Column::text("rotated_to"),
            ],
            rows,
            changed: false,
            carries_secret: false,
        }))
    }
}
