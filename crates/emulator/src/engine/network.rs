//! Network rules and network policies (§5.11): statements, the "subject to a network policy"
//! test of §6.5 and address evaluation against the TCP peer.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use snowpat_sql::ast::{Ident, ObjectName, Property};

use super::catalog::{Body, Kind, NetworkPolicy, NetworkRule, Object, Target, User};
use super::{errors, props, unchanged};
use super::{Account, ResultSet, Session, SqlError};

const OK: &str = "Statement executed successfully.";

/// Whether an address matches a rule value or IP list entry (CIDR or single address).
fn matches_entry(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        return net.contains(&ip);
    }
    entry.parse::<IpAddr>().is_ok_and(|a| a == ip)
}

fn valid_entry(entry: &str) -> bool {
    let entry = entry.trim();
    entry.parse::<IpNet>().is_ok() || entry.parse::<IpAddr>().is_ok()
}

impl Account {
    // ---- network rules and policies (§5.11) ----

    pub(crate) fn create_network_rule(
        &mut self,
        s: &Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &ObjectName,
        properties: &[Property],
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        if or_replace && if_not_exists {
            return Err(errors::syntax("IF"));
        }
        let statement = "CREATE NETWORK RULE";
        let path = self.object_path(s, name, statement)?;
        self.check_create_in_schema(s, &path[..2], statement)?;
        let existing = self.catalog.object_id(Kind::NetworkRule, &path);
        if existing.is_some() && !or_replace {
            if if_not_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "{} already exists, statement succeeded.",
                    path[2]
                ))));
            }
            return Err(errors::already_exists(&path[2]));
        }
        if let Some(id) = existing {
            let roles = self.effective_roles(s);
            if !self.catalog.owns(&roles, Target::Object(id)) {
                return Err(self.denied(&roles, Target::Object(id)));
            }
        }
        let mut rule = NetworkRule {
            mode: "INGRESS".into(),
            ..NetworkRule::default()
        };
        let mut comment = None;
        let mut has_type = false;
        let mut has_values = false;
        for p in properties {
            match p.name.as_str() {
                "TYPE" => {
                    let v = props::keyword(p)?;
                    const TYPES: &[&str] = &[
                        "IPV4",
                        "IPV6",
                        "AWSVPCEID",
                        "AZURELINKID",
                        "GCPPSCID",
                        "HOST_PORT",
                        "PRIVATE_HOST_PORT",
                    ];
                    if !TYPES.contains(&v.as_str()) {
                        return Err(errors::syntax(&v));
                    }
                    rule.rule_type = v;
                    has_type = true;
                }
                "VALUE_LIST" => {
                    rule.values = props::string_list(p)?;
                    has_values = true;
                }
                "MODE" => {
                    let v = props::keyword(p)?;
                    if !["INGRESS", "INTERNAL_STAGE", "EGRESS", "POSTGRES_INGRESS"]
                        .contains(&v.as_str())
                    {
                        return Err(errors::syntax(&v));
                    }
                    rule.mode = v;
                }
                "COMMENT" => comment = props::opt_string(p)?,
                other => return Err(errors::syntax(other)),
            }
        }
        if !has_type {
            return Err(errors::syntax("TYPE"));
        }
        if !has_values {
            return Err(errors::syntax("VALUE_LIST"));
        }
        if matches!(rule.rule_type.as_str(), "IPV4" | "IPV6") {
            for v in &rule.values {
                if !valid_entry(v) {
                    return Err(errors::invalid_value(v, "VALUE_LIST"));
                }
            }
        }
        let id = existing.unwrap_or_else(|| self.catalog.new_id());
        let owner = self.catalog.role_id(&s.primary_role);
        let display = path[2].clone();
        self.catalog.objects.insert(
            id,
            Object {
                id,
                kind: Kind::NetworkRule,
                path,
                owner,
                created_on: t,
                comment,
                body: Body::NetworkRule(rule),
            },
        );
        Ok(ResultSet::status(format!(
            "Network rule {display} successfully created."
        )))
    }

    fn rule_ids(&self, s: &Session, p: &Property) -> Result<Vec<u64>, SqlError> {
        let roles = self.effective_roles(s);
        let mut out = Vec::new();
        for v in props::list(p)? {
            let parts =
                props::qualified(&v).ok_or_else(|| errors::syntax(&props::value_text(&v)))?;
            let name = ObjectName(parts.iter().map(|x| Ident::new(x.clone())).collect());
            let path = self.object_path(s, &name, "CREATE NETWORK POLICY")?;
            let id = self
                .catalog
                .object_id(Kind::NetworkRule, &path)
                .ok_or_else(|| errors::not_found(Kind::NetworkRule, &path.join(".")))?;
            if !self.catalog.holds_any(&roles, Target::Object(id)) {
                return Err(self.denied(&roles, Target::Object(id)));
            }
            out.push(id);
        }
        Ok(out)
    }

    fn apply_network_policy_props(
        &self,
        s: &Session,
        np: &mut NetworkPolicy,
        comment: &mut Option<String>,
        properties: &[Property],
    ) -> Result<(), SqlError> {
        for p in properties {
            match p.name.as_str() {
                "ALLOWED_NETWORK_RULE_LIST" => np.allowed_rules = self.rule_ids(s, p)?,
                "BLOCKED_NETWORK_RULE_LIST" => np.blocked_rules = self.rule_ids(s, p)?,
                "ALLOWED_IP_LIST" | "BLOCKED_IP_LIST" => {
                    let ips = props::string_list(p)?;
                    for ip in &ips {
                        if !valid_entry(ip) {
                            return Err(errors::invalid_value(ip, p.name.as_str()));
                        }
                    }
                    if p.name.as_str() == "ALLOWED_IP_LIST" {
                        np.allowed_ips = ips;
                    } else {
                        np.blocked_ips = ips;
                    }
                }
                "COMMENT" => *comment = props::opt_string(p)?,
                other => return Err(errors::syntax(other)),
            }
        }
        Ok(())
    }

    pub(crate) fn create_network_policy(
        &mut self,
        s: &Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &str,
        properties: &[Property],
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        if or_replace && if_not_exists {
            return Err(errors::syntax("IF"));
        }
        let roles = self.primary_roles(s);
        self.require_account_priv(&roles, "CREATE NETWORK POLICY")?;
        let path = vec![name.to_owned()];
        let existing = self.catalog.object_id(Kind::NetworkPolicy, &path);
        if existing.is_some() && !or_replace {
            if if_not_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "{name} already exists, statement succeeded."
                ))));
            }
            return Err(errors::already_exists(name));
        }
        if let Some(id) = existing {
            let all = self.effective_roles(s);
            if !self.catalog.owns(&all, Target::Object(id)) {
                return Err(self.denied(&all, Target::Object(id)));
            }
        }
        let mut np = NetworkPolicy::default();
        let mut comment = None;
        self.apply_network_policy_props(s, &mut np, &mut comment, properties)?;
        let id = existing.unwrap_or_else(|| self.catalog.new_id());
        let owner = self.catalog.role_id(&s.primary_role);
        self.catalog.objects.insert(
            id,
            Object {
                id,
                kind: Kind::NetworkPolicy,
                path,
                owner,
                created_on: t,
                comment,
                body: Body::NetworkPolicy(np),
            },
        );
        Ok(ResultSet::status(format!(
            "Network policy {name} successfully created."
        )))
    }

    pub(crate) fn alter_network_policy(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &str,
        properties: &[Property],
    ) -> Result<ResultSet, SqlError> {
        let Some(id) =
            self.owned_for_alter(s, Kind::NetworkPolicy, &[name.to_owned()], if_exists)?
        else {
            return Ok(unchanged(ResultSet::status(OK)));
        };
        let Some(obj) = self.catalog.objects.get(&id) else {
            return Err(errors::not_found(Kind::NetworkPolicy, name));
        };
        let mut np = match &obj.body {
            Body::NetworkPolicy(np) => np.clone(),
            _ => NetworkPolicy::default(),
        };
        let mut comment = obj.comment.clone();
        self.apply_network_policy_props(s, &mut np, &mut comment, properties)?;
        if let Some(o) = self.catalog.objects.get_mut(&id) {
            o.body = Body::NetworkPolicy(np);
            o.comment = comment;
        }
        Ok(ResultSet::status(OK))
    }

    pub(crate) fn drop_network_policy(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &str,
    ) -> Result<ResultSet, SqlError> {
        let Some(id) = self
            .catalog
            .object_id(Kind::NetworkPolicy, &[name.to_owned()])
        else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({name} already dropped)."
                ))));
            }
            return Err(errors::not_found(Kind::NetworkPolicy, name));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        self.catalog.objects.remove(&id);
        self.catalog.forget_target(Target::Object(id));
        if self.catalog.account_network_policy == Some(id) {
            self.catalog.account_network_policy = None;
        }
        for u in self.catalog.users.values_mut() {
            if u.network_policy == Some(id) {
                u.network_policy = None;
            }
        }
        Ok(ResultSet::status(format!("{name} successfully dropped.")))
    }

    // ---- evaluation ----

    /// The network policy a user is subject to: user-level, else account-level (§5.11).
    pub(crate) fn user_network_policy(&self, u: &User) -> Option<&NetworkPolicy> {
        let id = u.network_policy.or(self.catalog.account_network_policy)?;
        match self.catalog.objects.get(&id).map(|o| &o.body) {
            Some(Body::NetworkPolicy(np)) => Some(np),
            _ => None,
        }
    }

    /// "Subject to a network policy" for the PAT requirement: the policy has ≥1 network rule
    /// (§6.5, weak point §11.7).
    pub(crate) fn subject_to_network_policy(&self, u: &User) -> bool {
        self.user_network_policy(u).is_some_and(|np| {
            np.allowed_rules
                .iter()
                .chain(np.blocked_rules.iter())
                .any(|id| self.catalog.objects.contains_key(id))
        })
    }

    fn rule_entries(&self, ids: &[u64]) -> Vec<String> {
        ids.iter()
            .filter_map(|id| self.catalog.objects.get(id))
            .filter_map(|o| match &o.body {
                Body::NetworkRule(r)
                    if r.mode == "INGRESS" && matches!(r.rule_type.as_str(), "IPV4" | "IPV6") =>
                {
                    Some(r.values.clone())
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Whether a network policy lets `ip` in (§5.11).
    pub(crate) fn network_allows(&self, np: &NetworkPolicy, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let mut blocked = self.rule_entries(&np.blocked_rules);
        blocked.extend(np.blocked_ips.iter().cloned());
        if blocked.iter().any(|e| matches_entry(e, ip)) {
            return false;
        }
        let mut allowed = self.rule_entries(&np.allowed_rules);
        allowed.extend(np.allowed_ips.iter().cloned());
        allowed.is_empty() || allowed.iter().any(|e| matches_entry(e, ip))
    }
}
